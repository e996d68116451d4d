"""Reason families on samples written from RFCs, MTA sources and provider code tables:
each sample goes through the classifier's own last step (finish), so the status read
from the text, the provider tables and the reason rules all take part."""

from __future__ import annotations

import pytest

from bounce_parsers.classify import finish
from bounce_parsers.entry import Entry

from .reason_samples import SAMPLES, Sample


def judge(s: Sample) -> tuple[str, bool]:
    e = Entry(
        recipient="kim@b.example",
        status=s.status,
        diagnostic=s.diagnostic,
        diagnostic_type=s.dtype,
        action="failed",
        remote_mta=s.remote_mta,
        command=s.command,
    )
    r = finish(e)
    return r.reason, r.hard


@pytest.mark.parametrize("sample", SAMPLES, ids=[f"{s.family}:{s.diagnostic[:40]}" for s in SAMPLES])
def test_reason_family(sample: Sample) -> None:
    assert judge(sample) == (sample.want, sample.hard)

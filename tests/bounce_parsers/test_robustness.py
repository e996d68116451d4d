"""classify() never raises: a hypothesis property test plus a small slice of the mutation run
(the full run of 100,000+ inputs is bench/bounce_parsers/fuzz.py)."""

from __future__ import annotations

import importlib.util
import random
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from bounce_parsers.classify import classify_mail

_MUTATE = Path(__file__).resolve().parents[2] / "bench" / "bounce_parsers" / "mutate.py"
_spec = importlib.util.spec_from_file_location("bounce_mutate", _MUTATE)
mutate_mod = importlib.util.module_from_spec(_spec)  # type: ignore[arg-type]
_spec.loader.exec_module(mutate_mod)  # type: ignore[union-attr]

HEADER_LINES = st.sampled_from(
    [
        b"From: MAILER-DAEMON@x.example",
        b"Subject: Undelivered Mail Returned to Sender",
        b"Auto-Submitted: auto-replied",
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="b"',
        b"Content-Type: multipart/report; report-type=feedback-report; boundary=b",
        b"X-Failed-Recipients: a@b.c",
        b"Content-Transfer-Encoding: base64",
        b"Subject: =?utf-8?B?8J+qipcfkig=?=",
        b"To: x+tok@y.z",
    ]
)
BODY_LINES = st.sampled_from(
    [
        b"--b",
        b"--b--",
        b"Content-Type: message/delivery-status",
        b"Final-Recipient: rfc822; a@b.example",
        b"Action: failed",
        b"Status: 5.1.1",
        b"Diagnostic-Code: smtp; 550 5.1.1 user unknown",
        b"<a@b.example>:",
        b"Content-Type: message/rfc822",
        b"Message-ID: <x@y>",
        b"X-Bulkmail-Campaign: 1",
        b"",
        b"  x@y.example",
        b'{"notificationType":"Bounce","bounce":{"bouncedRecipients":[{"emailAddress":1}]}}',
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_random_bytes(raw: bytes) -> None:
    classify_mail(raw)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(HEADER_LINES, max_size=8),
    st.lists(st.one_of(BODY_LINES, st.binary(max_size=40)), max_size=30),
    st.sampled_from([b"\n", b"\r\n", b"\r"]),
)
def test_structured_garbage(head: list[bytes], body: list[bytes], eol: bytes) -> None:
    classify_mail(eol.join(head) + eol + eol + eol.join(body))


def test_mutation_slice(corpus: Path) -> None:
    samples = Path(__file__).resolve().parent / "samples"
    seeds = [p.read_bytes() for p in sorted(corpus.glob("*/*.eml")) + sorted(samples.glob("*/*.eml"))]
    rng = random.Random(7)
    for _ in range(1500):
        classify_mail(mutate_mod.compose(rng, seeds))


def test_hostile_shapes_of_the_new_layouts_stay_fast() -> None:
    """Long runs in the shapes the HTML, X.400, source-route and mbox readers look at."""
    import time

    bodies = [
        b"Content-Type: text/html\n\n<br>" + b" " * 200_000 + b"\n" + b"<" * 50_000,
        b"Subject: Undeliverable\n\ndid not reach the following recipient(s):\n\nc=US;" + b"a=;" * 60_000,
        b"Content-Type: multipart/report; boundary=b\n\n--b\nContent-Type: message/delivery-status\n\n"
        b"Final-Recipient: rfc822; <" + b"@x" * 60_000 + b"\n--b--\n",
        b"From a Mon Feb  3 10:00:00 2020\n\n" + b"\n\nFrom a Mon Feb  3 10:00:00 2020\n" * 5_000,
        b"From: MAILER-DAEMON@x.example\n\n" + b'"' * 100_000 + b"@x.example",
    ]
    for raw in bodies:
        start = time.perf_counter()
        classify_mail(raw)
        assert time.perf_counter() - start < 2.0

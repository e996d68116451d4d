"""Shared helpers: the shared bounce corpus (skipped cleanly when absent) and a message builder."""

from __future__ import annotations

from pathlib import Path

import pytest

CORPUS = Path(__file__).resolve().parents[2] / ".." / "shared" / "corpus" / "bounces"


@pytest.fixture(scope="session")
def corpus() -> Path:
    if not (CORPUS / "expected.json").exists():
        pytest.skip("shared bounce corpus not available")
    return CORPUS


def mail(headers: dict[str, str], body: str, eol: str = "\n") -> bytes:
    lines = [f"{k}: {v}" for k, v in headers.items()]
    return (eol.join(lines) + eol + eol + body.replace("\n", eol)).encode("utf-8")

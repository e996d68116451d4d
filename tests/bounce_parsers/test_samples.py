"""The hand-written samples of tests/bounce_parsers/samples/, one family per directory, against
their table (samples/expected.json): the kind, and exactly the expected addresses — no fewer, no
placeholder or relay address beside them. A 'delay' entry is a bounce whose every recipient is
only delayed, which the ledger records as a delay and never counts as a bounce."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bounce_parsers import classify

from .conftest import mail

SAMPLES = Path(__file__).resolve().parent / "samples"
TABLE = {
    k: v
    for k, v in json.loads((SAMPLES / "expected.json").read_text(encoding="utf-8")).items()
    if not k.startswith("_")
}


def test_every_sample_has_a_row() -> None:
    on_disk = {str(p.relative_to(SAMPLES)) for p in SAMPLES.glob("*/*.eml")}
    assert on_disk == set(TABLE)


@pytest.mark.parametrize("name", sorted(TABLE))
def test_sample(name: str) -> None:
    want = TABLE[name]
    c = classify((SAMPLES / name).read_bytes())
    got = sorted(r.address.lower() for r in c.recipients)
    assert got == sorted(addr.lower() for addr, _, _ in want["recipients"]), c.evidence
    if want["kind"] == "delay":
        assert c.kind == "bounce" and all(r.action == "delayed" for r in c.recipients), c.evidence
        assert not any(r.hard for r in c.recipients)
    else:
        assert c.kind == want["kind"], c.evidence
        if want["kind"] == "bounce":
            assert all(r.action != "delayed" for r in c.recipients)


def test_a_vacation_reply_with_a_link_stays_an_auto_reply() -> None:
    """The challenge-response rule needs verification words about the sender, not any link."""
    body = (
        "I am out of the office until Monday and will confirm your order then.\n"
        "For urgent questions see https://help.example.org/contact\n"
    )
    c = classify(
        mail(
            {
                "From": "Ann <ann@example.org>",
                "To": "news@bulk.example",
                "Subject": "Out of office",
                "Auto-Submitted": "auto-replied",
            },
            body,
        )
    )
    assert c.kind == "autoreply"


def test_a_bounce_that_mentions_verification_stays_a_bounce() -> None:
    body = (
        "This is the mail system at host mx.example.org.\n\n"
        "<gone@example.org>: host mx.example.org[192.0.2.1] said: 550 5.7.1 Sender verification failed, see\n"
        "    https://example.org/help (in reply to RCPT TO command)\n"
    )
    c = classify(
        mail(
            {
                "From": "MAILER-DAEMON@mx.example.org (Mail Delivery System)",
                "To": "news@bulk.example",
                "Subject": "Undelivered Mail Returned to Sender",
            },
            body,
        )
    )
    assert c.kind == "bounce" and [r.address for r in c.recipients] == ["gone@example.org"]


def test_a_returned_original_in_mbox_style_stays_with_its_report() -> None:
    """A "From " line opening the returned original does not cut it off its bounce."""
    body = (
        "This is the mail system at host mx.example.org.\n\n<gone@example.org>: user unknown\n\n"
        "--- Original message follows ---\n\nFrom news@bulk.example Mon Feb  3 10:00:00 2020\n"
        "From: news@bulk.example\nTo: gone@example.org\nX-Bulkmail-Delivery: 77\nSubject: hi\n\nhello\n"
    )
    raw = b"From MAILER-DAEMON Mon Feb  3 10:00:01 2020\n" + mail(
        {
            "From": "MAILER-DAEMON@mx.example.org (Mail Delivery System)",
            "To": "news@bulk.example",
            "Subject": "Undelivered Mail Returned to Sender",
        },
        body,
    )
    c = classify(raw)
    assert c.kind == "bounce" and c.delivery_id == "77"


@pytest.mark.parametrize(
    ("name", "want"),
    [
        # "user421@", "mx550.", "mx-450." hold digits; the report itself quotes no reply code
        ("reply_in_address/dsn-digits-in-address-and-host.eml", ("", "5.2.2")),
        # "no-reply+553@" and "mx451." beside the server's real answer
        ("reply_in_address/sendmail-plus-digits.eml", ("550", "5.1.1")),
    ],
)
def test_digits_inside_addresses_and_hosts_are_no_reply_code(name: str, want: tuple[str, str]) -> None:
    c = classify((SAMPLES / name).read_bytes())
    assert [(r.reply, r.status) for r in c.recipients] == [want]

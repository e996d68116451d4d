"""The lazy message reader: line endings, encoded words, charsets, broken MIME, size cap."""

from __future__ import annotations

import pytest

from bounce_parsers import classify
from bounce_parsers.message import MAX_BYTES, decode_words, parse, parse_headers, split_boundary
from bounce_parsers.report import Report

from .conftest import mail

DSN = """--B
Content-Type: text/plain

Delivery failed.

--B
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net

Final-Recipient: rfc822; nobody@example.org
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 <nobody@example.org>: Recipient address rejected:
 User unknown in local recipient table

--B
Content-Type: text/rfc822-headers

Message-ID: <abc@sender.example>
X-Bulkmail-Campaign: 42
X-Bulkmail-Delivery: 4242
--B--
"""
HEAD = {
    "From": "MAILER-DAEMON@mx.example.net",
    "To": "noreply+tok123@sender.example",
    "Subject": "Undelivered Mail Returned to Sender",
    "Content-Type": 'multipart/report; report-type=delivery-status; boundary="B"',
}


@pytest.mark.parametrize("eol", ["\n", "\r\n", "\r"])
def test_line_endings(eol: str) -> None:
    c = classify(mail(HEAD, DSN, eol))
    assert c.kind == "bounce"
    assert [r.address for r in c.recipients] == ["nobody@example.org"]
    r = c.recipients[0]
    assert (r.status, r.reply, r.reason, r.hard) == ("5.1.1", "550", "userunknown", True)
    assert "User unknown in local recipient table" in r.diagnostic
    assert (c.original_message_id, c.campaign_id, c.delivery_id) == ("abc@sender.example", "42", "4242")
    assert c.verp_tokens == ("tok123",)
    assert c.evidence == "rfc3464"


def test_encoded_words_and_charsets() -> None:
    assert decode_words("=?UTF-8?B?44Gr44KD44KT44GT?=") == "にゃんこ"
    assert decode_words("=?iso-8859-1?q?caf=E9?= =?iso-8859-1?q?_noir?=") == "café noir"
    assert isinstance(decode_words("=?bogus?B?!!!?="), str)  # never raises
    raw = b"Subject: =?koi8-r?B?8NLJ18XU?=\nFrom: a@b.example\n\nhi\n"
    assert classify(raw).subject == "Привет"


def test_broken_mime_and_8bit() -> None:
    raw = (
        b"From: MAILER-DAEMON@x.example\nSubject: Undeliverable\nContent-Type: multipart/report; boundary=\n\n"
        b"\xff\xfe garbage \x00\nFinal-Recipient: rfc822; a@b.example\nAction: failed\nStatus: 5.2.2\n"
    )
    c = classify(raw)
    assert c.kind == "bounce" and c.recipients[0].reason == "mailboxfull"


def test_size_cap() -> None:
    huge = mail(HEAD, DSN) + b"x" * (MAX_BYTES * 3)
    m = parse(huge)
    assert len(m.body) <= MAX_BYTES
    assert classify(huge).kind == "bounce"


def test_base64_and_qp_parts() -> None:
    body = (
        "--B\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\n"
        "caf=C3=A9\n--B\nContent-Type: message/delivery-status\nContent-Transfer-Encoding: base64\n\n"
        "RmluYWwtUmVjaXBpZW50OiByZmM4MjI7IHhAeS5leGFtcGxlCkFjdGlvbjogZmFpbGVkClN0YXR1czogNS4xLjEK\n--B--\n"
    )
    rep = Report(parse(mail(HEAD, body)))
    assert "café" in rep.text
    assert "Final-Recipient: rfc822; x@y.example" in rep.ds


@pytest.mark.parametrize(
    "body",
    [
        "pre\n--b\nA\n--b  \nB\n--b--\nepilogue",
        "--b\nA\n--bx\nstill A\n --b\nstill A\n--b--",
        "no delimiter at all",
        "--b--\n",
        "x--b\n--b\nA",
    ],
)
def test_split_boundary_matches_the_regex_split(body: str) -> None:
    import re

    delim = re.compile(r"^--" + re.escape("b") + r"(--)?[ \t]*$", re.M)
    want = [p or "" for p in delim.split(body)]
    assert split_boundary(body, "b") == want


def test_parse_headers_unfolds_and_skips_junk() -> None:
    block = (
        "Subject: one\n two\nnot a header line\n continuation of junk\nX-A: 1\nX-A:  2 \n"
        "Bad Key: x\n: empty\nTo:\n\t<a@b.example>"
    )
    h = parse_headers(block)
    assert h == {"subject": ["one two"], "x-a": ["1", "2"], "to": ["<a@b.example>"]}

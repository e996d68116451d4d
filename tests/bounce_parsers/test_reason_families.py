"""Reason families on samples written from RFCs, MTA sources and provider code tables:
each sample goes through the classifier's own last step (finish), so the status read
from the text, the provider tables and the reason rules all take part."""

from __future__ import annotations

import pytest

from bounce_parsers import classify
from bounce_parsers.reasons import find

from . import reason_validation
from .reason_samples import OPEN, SAMPLES, Sample, asserted_holdout, judge

EVERY = SAMPLES + asserted_holdout() + reason_validation.SAMPLES
ALL = [
    pytest.param(s, marks=pytest.mark.xfail(strict=True)) if s.diagnostic in OPEN | reason_validation.OPEN else s
    for s in EVERY
]


@pytest.mark.parametrize("sample", ALL, ids=[f"{s.family}:{s.diagnostic[:40]}" for s in EVERY])
def test_reason_family(sample: Sample) -> None:
    assert judge(sample) == (sample.want, sample.hard)


JP_NOTICE = (
    "以下の宛先へのメール配信に失敗しました。\n\n<kim@docomo.ne.jp>: 550 account is disabled\n\n"
    "宛先のアカウントは現在利用停止中です。\n"
)


@pytest.mark.parametrize("declared", [True, False], ids=["charset-declared", "charset-missing"])
def test_japanese_carrier_notice_in_iso_2022_jp(declared: bool) -> None:
    """ISO-2022-JP is 7-bit: the body must still be decoded (declared or not), and the
    carrier's "account is disabled" is a suspended account, not a dead address."""
    head = "From: Mail Delivery Subsystem <MAILER-DAEMON@mx.docomo.ne.jp>\nTo: s@a.example\nSubject: failure\n"
    if declared:
        head += "MIME-Version: 1.0\nContent-Type: text/plain; charset=ISO-2022-JP\n"
    c = classify(head.encode() + b"\n" + JP_NOTICE.encode("iso-2022-jp"))
    assert [(r.address, r.reason, r.hard) for r in c.recipients] == [("kim@docomo.ne.jp", "suspend", False)]
    assert "利用停止中" in c.recipients[0].diagnostic
    assert "\x1b" not in c.recipients[0].diagnostic


FORWARDED = [
    (
        "Exim",
        "Subject: Mail delivery failed: returning message to sender\n\n"
        "A message that you sent could not be delivered to one or more of its\n"
        "recipients. This is a permanent error. The following address(es) failed:\n\n"
        "  kim@c.example\n    (generated from kim@b.example)\n"
        "    SMTP error from remote mail server after RCPT TO:<kim@c.example>:\n"
        "    550 5.1.1 <kim@c.example>: Recipient address rejected: User unknown in virtual mailbox table\n",
        ("userunknown", True),
    ),
    (
        "Postfix",
        "Subject: Undelivered Mail Returned to Sender\n\nThis is the mail system at host mx.b.example.\n\n"
        "I'm sorry to have to inform you that your message could not\nbe delivered to one or more recipients.\n\n"
        "<kim@c.example> (expanded from <kim@b.example>): host mx.c.example[192.0.2.9]\n"
        "    said: 550 5.2.2 <kim@c.example>: Mailbox full (in reply to RCPT TO command)\n",
        ("mailboxfull", False),
    ),
    (
        "Sendmail",
        "Subject: Returned mail: see transcript for details\n\n"
        "   ----- The following addresses had permanent fatal errors -----\nkim@c.example\n"
        "    (reason: 550 5.1.1 kim@c.example... User unknown)\n    (expanded from: <kim@b.example>)\n\n"
        "   ----- Transcript of session follows -----\n... while talking to mx.c.example.:\n"
        ">>> RCPT To:<kim@c.example>\n<<< 550 5.1.1 kim@c.example... User unknown\n",
        ("userunknown", True),
    ),
]


@pytest.mark.parametrize(("mta", "text", "want"), FORWARDED, ids=[f[0] for f in FORWARDED])
def test_forward_target_named_beside_our_address(mta: str, text: str, want: tuple[str, bool]) -> None:
    """The mailbox we sent to forwards to a second one whose server refused: one recipient,
    and the reason is the forward target's refusal (which address is reported is the
    address parser's business)."""
    c = classify(f"From: MAILER-DAEMON@mx.b.example\nTo: s@a.example\n{text}".encode())
    assert c.kind == "bounce"
    assert [(r.reason, r.hard) for r in c.recipients] == [want]


def _qmail(block: str) -> bytes:
    return (
        "From: MAILER-DAEMON@mx.a.example\nTo: s@a.example\nSubject: failure notice\n\n"
        "Hi. This is the qmail-send program at mx.a.example.\n"
        "I'm afraid I wasn't able to deliver your message to the following addresses.\n"
        "This is a permanent error; I've given up. Sorry it didn't work out.\n\n<kim@b.example>:\n"
        f"{block}\nI'm not going to try again; this message has been in the queue too long.\n\n"
        "--- Below this line is a copy of the message.\n\nTo: kim@b.example\n\nhi\n"
    ).encode()


@pytest.mark.parametrize(
    ("block", "want"),
    [
        # a passing trouble retried until the queue gave up is an expiry; a lasting cause stays
        ("Connected to 192.0.2.1 but connection died. (#4.4.2)", ("expired", False)),
        ("Sorry, the DNS of the destination returned a temporary failure. (#4.4.3)", ("expired", False)),
        ("Host not found, try again", ("expired", False)),
        ("Sorry, I couldn't find any host named b.example. (#5.1.2)", ("hostunknown", True)),
        ("Sorry, no mailbox here by that name. (#5.1.1)", ("userunknown", True)),
        (
            "192.0.2.1 does not like recipient.\nRemote host said: 550 5.1.1 <kim@b.example>: User unknown",
            ("userunknown", True),
        ),
        ("Connected to 192.0.2.1 but greeting failed.\nRemote host said: 554 Access denied (BL)", ("blocked", False)),
        ("Resources temporarily unavailable, please try again later [#4.3.0].", ("expired", False)),
        ("", ("expired", False)),
    ],
)
def test_qmail_queue_trailer_keeps_the_stated_cause(block: str, want: tuple[str, bool]) -> None:
    c = classify(_qmail(block))
    assert [(r.reason, r.hard) for r in c.recipients] == [want]


def test_nested_queue_trailers_stay_bounded() -> None:
    """Trailers nested so that removing one rebuilds another must not recurse without end."""
    trailer = "this message has been in the queue too long"
    text = trailer
    for _ in range(1500):
        text = trailer[:-5] + text + trailer[-4:]  # "...queue too" + T + "long": T -> " " rebuilds one
    assert find("", "", "", text, "SMTP", "failed") == "expired"


def _dsn(extra_headers: str = "", remote: str = "") -> bytes:
    remote_line = f"Remote-MTA: dns; {remote}\n" if remote else ""
    return (
        "From: MAILER-DAEMON@mx.b.example\nTo: s@a.example\nSubject: Delivery Status Notification (Failure)\n"
        f"{extra_headers}MIME-Version: 1.0\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\n\n'
        "--b\nContent-Type: text/plain\n\nYour message could not be delivered to kim@b.example.\n\n"
        "--b\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.b.example\n\n"
        "Final-Recipient: rfc822; kim@b.example\nAction: failed\nStatus: 5.0.0\n"
        f"{remote_line}Diagnostic-Code: smtp; 550 No such user here\n\n--b--\n"
    ).encode()


@pytest.mark.parametrize(
    ("headers", "remote", "want"),
    [
        ("", "", ("userunknown", True)),  # the mailbox host's own answer
        ("X-Mailer: Example E-mail Filter 6.0\n", "", ("filtered", False)),  # a filtering gateway wrote it
        ("X-NAI-Header: Modified by McAfee Email Gateway\n", "", ("filtered", False)),
        ("", "mx2.b.example", ("filtered", False)),  # a relay passes on an answer without its command
    ],
    ids=["own-answer", "filter-x-mailer", "mcafee-header", "relayed"],
)
def test_bare_no_such_user_by_who_wrote_the_report(headers: str, remote: str, want: tuple[str, bool]) -> None:
    c = classify(_dsn(headers, remote))
    assert [(r.reason, r.hard) for r in c.recipients] == [want]


def test_a_filter_on_the_receiving_side_does_not_make_the_report_a_gateways() -> None:
    """Headers a receiving-side filter stamps on every arriving mail (and the returned
    original's headers) say nothing about who wrote the report."""
    c = classify(_dsn("X-Barracuda-Spam-Score: 0.0\nX-Proofpoint-Virus-Version: 8.0\n"))
    assert [(r.reason, r.hard) for r in c.recipients] == [("userunknown", True)]

"""Kinds other than bounce, and the attribution data read from the returned original."""

from __future__ import annotations

from bounce_parsers import HEADER_CAMPAIGN, HEADER_DELIVERY, classify

from .conftest import mail

ARF = """--A
Content-Type: text/plain

This is an abuse report.

--A
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: SomeFBL/1.0
Version: 1
Original-Rcpt-To: <complainer@isp.example>

--A
Content-Type: message/rfc822

From: news@sender.example
To: complainer@isp.example
Message-ID: <m1@sender.example>
X-Bulkmail-Campaign: 7
X-Bulkmail-Delivery: 70

hello
--A--
"""


def test_header_names() -> None:
    assert (HEADER_CAMPAIGN, HEADER_DELIVERY) == ("X-Bulkmail-Campaign", "X-Bulkmail-Delivery")


def test_arf_complaint() -> None:
    c = classify(
        mail(
            {
                "From": "fbl@isp.example",
                "Subject": "Abuse report",
                "Content-Type": 'multipart/report; report-type=feedback-report; boundary="A"',
            },
            ARF,
        )
    )
    assert c.kind == "complaint" and c.evidence == "arf"
    assert [(r.address, r.reason, r.hard) for r in c.recipients] == [("complainer@isp.example", "feedback", False)]
    assert (c.campaign_id, c.delivery_id, c.original_message_id) == ("7", "70", "m1@sender.example")


def test_autoreply() -> None:
    c = classify(
        mail(
            {
                "From": "Kiji <kiji@example.net>",
                "To": "noreply+abc@sender.example",
                "Subject": "Out of Office: hello",
                "Auto-Submitted": "auto-replied",
                "In-Reply-To": "<m9@sender.example>",
            },
            "I am out of the office until Monday.\n",
        )
    )
    assert c.kind == "autoreply" and c.evidence == "rfc3834:auto-submitted"
    assert [(r.address, r.reason) for r in c.recipients] == [("kiji@example.net", "vacation")]
    assert c.original_message_id == "m9@sender.example"
    assert c.verp_tokens == ("abc",)
    assert c.from_address == "kiji@example.net"


def test_daemon_auto_submitted_is_not_autoreply() -> None:
    c = classify(
        mail(
            {"From": "postmaster@example.net", "Subject": "notice", "Auto-Submitted": "auto-replied"},
            "Something happened.\n",
        )
    )
    assert c.kind == "none" and not c.recipients


def test_ordinary_mail_is_none() -> None:
    c = classify(
        mail(
            {"From": "friend@example.org", "To": "me@example.com", "Subject": "lunch?"},
            "See you at noon. Write to bob@example.org if late.\n",
        )
    )
    assert (c.kind, c.recipients, c.evidence) == ("none", (), "none")


def test_success_dsn_is_delivery() -> None:
    body = (
        "--B\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example\nOriginal-Envelope-Id: "
        "env-99\n\nFinal-Recipient: rfc822; ok@example.org\nAction: delivered\nStatus: 2.0.0\n--B--\n"
    )
    c = classify(
        mail(
            {
                "From": "MAILER-DAEMON@mx.example",
                "Subject": "Successful Mail Delivery Report",
                "Content-Type": "multipart/report; report-type=delivery-status; boundary=B",
            },
            body,
        )
    )
    assert c.kind == "delivery"
    assert c.recipients[0].reason == "delivered" and c.recipients[0].action == "delivered"
    assert c.verp_tokens == ("env-99",)


def test_delayed_is_soft() -> None:
    body = (
        "--B\nContent-Type: message/delivery-status\n\nFinal-Recipient: rfc822; slow@example.org\n"
        "Action: delayed\nStatus: 4.4.1\nDiagnostic-Code: smtp; connect to mx.example.org: Connection timed out\n"
        "--B--\n"
    )
    c = classify(
        mail(
            {
                "From": "MAILER-DAEMON@mx.example",
                "Subject": "Delayed Mail (still being retried)",
                "Content-Type": "multipart/report; report-type=delivery-status; boundary=B",
            },
            body,
        )
    )
    r = c.recipients[0]
    assert c.kind == "bounce" and r.action == "delayed" and r.reason == "expired" and r.hard is False


def test_never_raises_on_garbage() -> None:
    for raw in (b"", b"\x00\xff" * 100, b"Content-Type: multipart/mixed; boundary=x\n\n--x\n--x--", b":" * 1000):
        assert classify(raw).kind in ("none", "bounce")


def test_returned_headers_are_kept_for_people_to_read() -> None:
    body = (
        "--B\nContent-Type: message/delivery-status\n\nFinal-Recipient: rfc822; gone@example.org\n"
        "Action: failed\nStatus: 5.1.1\n\n--B\nContent-Type: text/rfc822-headers\n\n"
        "From: Shop <news@example.com>\nTo: gone@example.org\nSubject: Spring news\n"
        f"Message-ID: <m1@example.com>\n{HEADER_CAMPAIGN}: 7\n\n--B--\n"
    )
    c = classify(
        mail(
            {
                "From": "MAILER-DAEMON@mx.example",
                "Subject": "Undelivered Mail Returned to Sender",
                "Content-Type": "multipart/report; report-type=delivery-status; boundary=B",
            },
            body,
        )
    )
    assert c.original_headers.startswith("From: Shop <news@example.com>")
    assert "Subject: Spring news" in c.original_headers and f"{HEADER_CAMPAIGN}: 7" in c.original_headers
    ordinary = classify(mail({"From": "bob@example.org", "Subject": "hi"}, "no original here\n"))
    assert ordinary.original_headers == ""

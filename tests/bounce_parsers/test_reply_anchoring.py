"""A reply code is read only where a reply stands: never from inside an address, a host
name or a queue id (Postfix's 'unknown user: "nobody525@..."' is a hard bounce, not 525)."""

from __future__ import annotations

import pytest

from bounce_parsers import classify
from bounce_parsers.smtp import find_reply, find_status

from .conftest import mail


def _postfix_dsn(recipient: str, status: str, diagnostic: str) -> bytes:
    """The DSN Postfix writes for a local unknown user (as the real relay does)."""
    body = (
        "--B\nContent-Description: Notification\nContent-Type: text/plain; charset=us-ascii\n\n"
        "This is the mail system at host mx421.example.test.\n\n"
        "I'm sorry to have to inform you that your message could not\nbe delivered to one or more recipients.\n\n"
        f"<{recipient}>: {diagnostic}\n\n"
        "--B\nContent-Description: Delivery report\nContent-Type: message/delivery-status\n\n"
        "Reporting-MTA: dns; mx421.example.test\nX-Postfix-Queue-ID: 45A1B2C\n"
        "Arrival-Date: Mon,  7 Dec 2026 07:00:00 +0000 (UTC)\n\n"
        f"Final-Recipient: rfc822; {recipient}\nOriginal-Recipient: rfc822;{recipient}\n"
        f"Action: failed\nStatus: {status}\nDiagnostic-Code: X-Postfix; {diagnostic}\n\n"
        "--B--\n"
    )
    return mail(
        {
            "From": "MAILER-DAEMON@mx421.example.test (Mail Delivery System)",
            "Subject": "Undelivered Mail Returned to Sender",
            "To": "noreply@example.test",
            "Content-Type": "multipart/report; report-type=delivery-status; boundary=B",
        },
        body,
    )


@pytest.mark.parametrize("local", ["nobody525", "nobody550", "user421", "x.552", "a-554", "b+521", "c_523"])
def test_digits_in_an_unknown_users_address_are_not_a_reply(local: str) -> None:
    addr = f"{local}@example.test"
    c = classify(_postfix_dsn(addr, "5.1.1", f'unknown user: "{addr}"'))
    assert c.kind == "bounce"
    (r,) = c.recipients
    assert (r.address, r.status, r.reply, r.reason, r.hard) == (addr, "5.1.1", "", "userunknown", True)


@pytest.mark.parametrize(
    "text",
    [
        'unknown user: "nobody525@example.test"',
        "mail for <user550@x.example> loops back to myself",
        "connect to mx421.example.com[127.0.0.2]:25: Connection refused",
        "host mx-550.example.com said: try later",
        "queue id 45A1B2C; queue id 550A1B2 deferred; id 4F5G421x",
        "delivery to smtp550.example.net via lmtp:unix:private/dovecot-lmtp",
        "user=<who525@example.test>, host 550a.example",
    ],
)
def test_no_reply_code_inside_addresses_hosts_or_queue_ids(text: str) -> None:
    assert find_reply(text) == ""
    assert find_reply(text, "5.1.1") == ""


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("<user421@x.example>: host mx.example said: 550 5.1.1 Recipient unknown", "550"),
        ("to who554@example.test: said: 452-4.2.2 The account is over quota 452 4.2.2 try later", "452"),
        ("nobody525@example.test: smtp; 550 Requested action not taken: mailbox unavailable", "550"),
        ("mx-x521a.example: #550 5.1.1 RESOLVER.ADR.RecipNotFound; not found ##", "550"),
        ("queue id 4F5G421x: Remote server replied: 554 Transaction failed", "554"),
        ("host smtp_550 (reply 421) service not available", "421"),
    ],
)
def test_reply_codes_standing_on_their_own_are_still_found(text: str, want: str) -> None:
    assert find_reply(text) == want


@pytest.mark.parametrize(
    "text",
    [
        "mailbox user5.1.1@example.test unknown",
        "relay mx5.7.1.example.net refused",
        "id A4.4.7b queued",
    ],
)
def test_no_status_code_inside_addresses_or_hosts(text: str) -> None:
    assert find_status(text) == ""


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("host mx5.7.1.example.net said: 550-5.1.1 <user5.2.2@x.example> unknown 550 5.1.1 end", "5.1.1"),
        ("postfix/smtp: to=<a4.4.1@x.example>, relay=mx-4.2.2.example, dsn=4.2.2, status=deferred", "4.2.2"),
        ("sender 5.7.1@x.example: Recipient address rejected (5.1.1).", "5.1.1"),
    ],
)
def test_status_codes_standing_on_their_own_are_still_found(text: str, want: str) -> None:
    assert find_status(text) == want

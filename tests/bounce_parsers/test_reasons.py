"""Every reason of the vocabulary, from a diagnostic text (plus status/reply/command)."""

from __future__ import annotations

import pytest

from bounce_parsers import classify_smtp_reply
from bounce_parsers.reasons import find, is_hard, match_text

# (reason, status, reply, command, diagnostic)
CASES = [
    ("userunknown", "5.1.1", "550", "RCPT", "550 5.1.1 <a@b.example>: Recipient address rejected: User unknown"),
    ("hostunknown", "5.1.2", "550", "", "Host or domain name not found. Name service error for name=b.example"),
    ("hasmoved", "5.1.6", "551", "RCPT", "551 5.1.6 <a@b.example> has been replaced by <c@b.example>"),
    ("notaccept", "5.1.10", "556", "RCPT", "556 5.1.10 Recipient address has null MX"),
    ("mailboxfull", "5.2.2", "552", "RCPT", "552 5.2.2 Mailbox full"),
    ("exceedlimit", "5.2.3", "552", "DATA", "552 5.2.3 Message length exceeds administrative limit"),
    ("mesgtoobig", "5.3.4", "552", "DATA", "552 5.3.4 Error: message file too big"),
    ("filtered", "5.2.0", "550", "DATA", "550 5.2.0 Message rejected due to user rules"),
    ("rejected", "5.1.8", "553", "MAIL", "553 5.1.8 <x@y.example>... Domain of sender address x@y.example does not exist"),
    ("blocked", "5.7.1", "550", "CONN", "550 5.7.1 Client host rejected: blocked using zen.spamhaus.org"),
    ("spamdetected", "5.7.1", "550", "DATA", "550 5.7.1 Message rejected as spam by Content Filtering"),
    ("virusdetected", "5.7.0", "550", "DATA", "550 5.7.0 Virus detected: Eicar-Test-Signature"),
    ("policyviolation", "5.7.0", "550", "DATA", "550 5.7.0 Message not accepted for policy reasons"),
    ("securityerror", "5.7.0", "530", "MAIL", "530 5.7.0 Authentication required"),
    ("authfailure", "5.7.26", "550", "DATA", "550 5.7.26 Unauthenticated email is not accepted due to domain's DMARC policy"),
    ("requireptr", "5.7.25", "550", "CONN", "550 5.7.25 The IP address sending this message does not have a PTR record setup"),
    ("badreputation", "4.7.0", "421", "CONN", "421 4.7.0 [TSS04] Messages temporarily deferred due to unexpected volume or user complaints - 4.16.55.1"),
    ("norelaying", "5.7.1", "554", "RCPT", "554 5.7.1 <a@b.example>: Relay access denied"),
    ("notcompliantrfc", "5.7.1", "550", "DATA", "550 5.7.1 This message is not RFC 5322 compliant. There are multiple From headers"),
    ("syntaxerror", "5.5.0", "503", "DATA", "503 Bad sequence of commands"),
    ("contenterror", "5.6.0", "554", "DATA", "554 5.6.0 Message contains invalid header"),
    ("toomanyconn", "4.3.2", "452", "CONN", "452 4.3.2 Too many connections"),
    ("speeding", "4.7.1", "451", "RCPT", "451 4.7.1 Client host rejected: Please try again slower"),
    ("suspend", "5.2.1", "550", "RCPT", "550 5.2.1 The email account that you tried to reach is disabled"),
    ("systemerror", "4.3.0", "451", "DATA", "451 4.3.0 Error: queue file write error"),
    ("systemfull", "4.3.1", "452", "RCPT", "452 4.3.1 Insufficient system storage"),
    ("mailererror", "5.3.0", "", "", "x-unix; procmail: Couldn't create /var/mail/x"),
    ("networkerror", "5.4.6", "554", "", "554 5.4.6 Hop count exceeded - possible mail loop"),
    ("expired", "4.4.7", "", "", "Delivery expired (message too old) 'timeout'"),
    ("failedstarttls", "5.7.10", "523", "STARTTLS", "523 TLS required but not supported"),
    ("onhold", "", "", "", "something odd happened to this message"),
    ("undefined", "", "", "", ""),
]


@pytest.mark.parametrize(("want", "status", "reply", "command", "diag"), CASES, ids=[c[0] for c in CASES])
def test_every_reason(want: str, status: str, reply: str, command: str, diag: str) -> None:
    dtype = "X-UNIX" if diag.startswith("x-unix") else "SMTP"
    assert find(status, reply, command, diag, dtype, "failed") == want


def test_delivered_and_delayed() -> None:
    assert find("2.0.0", "250", "", "250 2.0.0 OK", "SMTP", "delivered") == "delivered"
    assert find("", "", "", "", "SMTP", "delayed") == "expired"


@pytest.mark.parametrize(("reason", "status", "reply", "hard"), [
    ("userunknown", "5.1.1", "550", True), ("userunknown", "4.1.1", "450", True), ("hostunknown", "5.1.2", "", True),
    ("hasmoved", "5.1.6", "551", True), ("notaccept", "5.1.10", "556", True), ("notaccept", "4.0.0", "", False),
    ("mailboxfull", "5.2.2", "552", False), ("blocked", "5.7.1", "550", False), ("expired", "4.4.7", "", False),
])
def test_hard_soft(reason: str, status: str, reply: str, hard: bool) -> None:
    assert is_hard(reason, status, reply) is hard


@pytest.mark.parametrize(("code", "text", "want"), [
    (550, "5.1.1 <x@y>: Recipient address rejected: User unknown", ("userunknown", True)),
    (552, "5.2.2 Mailbox full", ("mailboxfull", False)),
    (554, "5.7.1 <x@y>: Relay access denied", ("norelaying", False)),
    (421, "4.7.0 Try again later, closing connection. (EHLO) - gsmtp too many connections", ("toomanyconn", False)),
    (556, "Domain does not accept mail", ("notaccept", True)),
    (250, "2.0.0 OK", ("delivered", False)),
])
def test_classify_smtp_reply(code: int, text: str, want: tuple[str, bool]) -> None:
    assert classify_smtp_reply(code, text) == want


def test_match_text_alone() -> None:
    assert match_text("Mailbox is full") == "mailboxfull"
    assert match_text("nothing to see") == ""

"""Every reason of the vocabulary, from a diagnostic text (plus status/reply/command)."""

from __future__ import annotations

import pytest

from bounce_parsers import classify_smtp_reply
from bounce_parsers.reasons import find, is_hard, match_text
from bounce_parsers.reasons.families import family
from bounce_parsers.reasons.providers import provider_reason
from bounce_parsers.smtp import find_reply, find_status

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
    (
        "rejected",
        "5.1.8",
        "553",
        "MAIL",
        "553 5.1.8 <x@y.example>... Domain of sender address x@y.example does not exist",
    ),
    ("blocked", "5.7.1", "550", "CONN", "550 5.7.1 Client host rejected: blocked using zen.spamhaus.org"),
    ("spamdetected", "5.7.1", "550", "DATA", "550 5.7.1 Message rejected as spam by Content Filtering"),
    ("virusdetected", "5.7.0", "550", "DATA", "550 5.7.0 Virus detected: Eicar-Test-Signature"),
    ("policyviolation", "5.7.0", "550", "DATA", "550 5.7.0 Message not accepted for policy reasons"),
    ("securityerror", "5.7.0", "530", "MAIL", "530 5.7.0 Authentication required"),
    (
        "authfailure",
        "5.7.26",
        "550",
        "DATA",
        "550 5.7.26 Unauthenticated email is not accepted due to domain's DMARC policy",
    ),
    (
        "requireptr",
        "5.7.25",
        "550",
        "CONN",
        "550 5.7.25 The IP address sending this message does not have a PTR record setup",
    ),
    (
        "badreputation",
        "4.7.0",
        "421",
        "CONN",
        "421 4.7.0 [TSS04] Messages temporarily deferred due to unexpected volume or user complaints - 4.16.55.1",
    ),
    ("norelaying", "5.7.1", "554", "RCPT", "554 5.7.1 <a@b.example>: Relay access denied"),
    (
        "notcompliantrfc",
        "5.7.1",
        "550",
        "DATA",
        "550 5.7.1 This message is not RFC 5322 compliant. There are multiple From headers",
    ),
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


@pytest.mark.parametrize(
    ("reason", "status", "reply", "hard"),
    [
        ("userunknown", "5.1.1", "550", True),
        ("userunknown", "4.1.1", "450", True),
        ("hostunknown", "5.1.2", "", True),
        ("hasmoved", "5.1.6", "551", True),
        ("notaccept", "5.1.10", "556", True),
        ("notaccept", "4.0.0", "", False),
        ("mailboxfull", "5.2.2", "552", False),
        ("blocked", "5.7.1", "550", False),
        ("expired", "4.4.7", "", False),
    ],
)
def test_hard_soft(reason: str, status: str, reply: str, hard: bool) -> None:
    assert is_hard(reason, status, reply) is hard


@pytest.mark.parametrize(
    ("code", "text", "want"),
    [
        (550, "5.1.1 <x@y>: Recipient address rejected: User unknown", ("userunknown", True)),
        (552, "5.2.2 Mailbox full", ("mailboxfull", False)),
        (554, "5.7.1 <x@y>: Relay access denied", ("norelaying", False)),
        (421, "4.7.0 Try again later, closing connection. (EHLO) - gsmtp too many connections", ("toomanyconn", False)),
        (556, "Domain does not accept mail", ("notaccept", True)),
        (250, "2.0.0 OK", ("delivered", False)),
    ],
)
def test_classify_smtp_reply(code: int, text: str, want: tuple[str, bool]) -> None:
    assert classify_smtp_reply(code, text) == want


def test_match_text_alone() -> None:
    assert match_text("Mailbox is full") == "mailboxfull"
    assert match_text("nothing to see") == ""


@pytest.mark.parametrize(
    ("want", "status", "reply", "command", "diag"),
    [
        # a flattened multi-line reply keeps its line prefixes; the phrase must still match
        (
            "speeding",
            "5.2.1",
            "550",
            "RCPT",
            "550-5.2.1 The user you are trying to contact is receiving mail at a rate that "
            "550-5.2.1 prevents additional messages from being delivered. 550 5.2.1 https://support.google.com/mail",
        ),
        # code and text agree on the domain: not a user unknown
        (
            "hostunknown",
            "5.1.2",
            "550",
            "RCPT",
            "550 5.1.2 <a@b.example>: Recipient address rejected: Bad destination system address",
        ),
        # a transient DNS failure is a network error, not a domain that does not exist
        ("networkerror", "4.0.0", "", "", "DNS Error: DNS type 'mx' lookup of b.example responded with code NXDOMAIN"),
        (
            "notaccept",
            "4.0.0",
            "",
            "",
            "The domain b.example doesn't receive email according to the administrator: returned MX",
        ),
        ("userunknown", "5.1.10", "", "", "The email address wasn\u2019t found at the destination domain."),
        # "user unknown" is the recipient's fault when it answered RCPT TO or came with an addressing code;
        # after DATA (or with neither) the same words come from a filter in the path
        ("userunknown", "5.0.0", "550", "RCPT", "550 <a@b.example>... User unknown"),
        (
            "userunknown",
            "5.1.351",
            "550",
            "",
            "550 5.1.351 Remote server returned unknown recipient -> 550 User unknown",
        ),
        ("filtered", "5.0.0", "550", "DATA", "550 <a@b.example>... User unknown"),
        ("expired", "", "", "", "Envelope expired"),
        ("authfailure", "5.0.0", "550", "", "550 DMARC check failed."),
        (
            "notcompliantrfc",
            "5.7.1",
            "550",
            "DATA",
            "550-5.7.1 Messages with multiple addresses in From: header are not accepted.",
        ),
    ],
)
def test_phrase_and_rule_details(want: str, status: str, reply: str, command: str, diag: str) -> None:
    assert find(status, reply, command, diag, "SMTP", "failed") == want


@pytest.mark.parametrize(
    ("source", "diag", "want"),
    [
        # the reporting server's own reply says what it says
        ("", "550 Unknown user a@b.example", "userunknown"),
        # a filtering gateway took the whole message before refusing: its "user unknown" is a filter's
        ("gateway", "550 Unknown user a@b.example", "filtered"),
        # a relay passing on a reply without its command cannot place it before DATA
        ("relay", "550 Unknown user a@b.example", "filtered"),
        # RFC 5321's stock 550 text, as the server's own reply, is an unknown mailbox; relayed, a filter's
        ("", "550 Requested action not taken: mailbox unavailable", "userunknown"),
        ("relay", "550 Requested action not taken: mailbox unavailable", "filtered"),
        # a reply naming only the address and its refusal refuses the address
        ("", "542 a@b.example Rejected", "userunknown"),
        ("", "550 <a@b.example>: rejected", "userunknown"),
        # no reply code at all: the words say it (mail never seen reads this way far more often than a filter's)
        ("", "User unknown", "userunknown"),
        # the structure that places it at the address wins over the source
        ("gateway", "550 5.1.1 Unknown user a@b.example", "userunknown"),
        ("relay", "550 5.5.0 Unknown user a@b.example", "userunknown"),
    ],
)
def test_bare_user_unknown_is_decided_by_who_answered(source: str, diag: str, want: str) -> None:
    status = "5.1.1" if "5.1.1" in diag else ("5.5.0" if "5.5.0" in diag else "5.0.0")
    reply = diag[:3] if diag[:3].isdigit() else ""
    assert find(status, reply, "", diag, "SMTP", "failed", "", source) == want


def test_x21_is_a_disabled_mailbox_unless_rcpt_was_refused_in_user_unknown_words() -> None:
    """RFC 3463 X.2.1: "Mailbox disabled, not accepting messages"."""
    diag = "550 5.2.1 <a@b.example>... User Unknown"
    assert find("5.2.1", "550", "", diag, "SMTP", "failed") == "suspend"
    assert find("5.2.1", "550", "RCPT", diag, "SMTP", "failed") == "userunknown"
    assert find("5.2.1", "550", "", "550 5.2.1 Mailbox disabled", "SMTP", "failed") == "suspend"


def test_postfix_type_with_a_remote_reply_reads_as_smtp() -> None:
    diag = (
        "delivery temporarily suspended: connect to mx.b.example[192.0.2.1]: server refused to talk to me: "
        "421 Service not available, closing transmission channel"
    )
    assert find("4.0.0", "421", "", diag, "X-POSTFIX", "delayed") == "blocked"
    assert find("4.3.0", "", "", "temporary failure", "X-POSTFIX", "failed") != "blocked"


@pytest.mark.parametrize(
    ("mta", "diag", "want"),
    [
        ("mx.cox.net", "550 5.1.0 <s@a.example> sender rejected. AUP#CXBL", "blocked"),
        ("", "550 5.1.0 sender rejected. https://www.spectrum.net/support/ AUP#In-1310", "toomanyconn"),
        ("smtp-in.orange.fr", "550 5.5.0 The recipient account is blocked. LPN007_426", "suspend"),
        ("", "421 mwinf5c77 ME Service refused, please try later. OFR_999 [999]", "blocked"),
        ("mx.qq.com", "550 Ip frequency limited", "toomanyconn"),
        ("mx1.mail.aol.com", "421 4.7.1 : (DYN:T1) http://postmaster.info.aol.com", "blocked"),
        (
            "smtp.secureserver.net",
            "550 5.1.1 <a@b> - 192.0.2.1 has sent to too many recipients this hour. IB607",
            "speeding",
        ),
        (
            "",
            "Your message wasn't delivered to a@b.example because the address couldn't be found. "
            "https://support.google.com/mail/?p=NoSuchUser",
            "userunknown",
        ),
        ("mta6.am0.yahoodns.net", "554 delivery error: dd This user doesn't have a yahoo.com account", "userunknown"),
        ("lsean.ezweb.ne.jp", "550 <nobody@ezweb.ne.jp>: User unknown", "userunknown"),
        ("msmx.au.com", "550 : User unknown", "filtered"),
        (
            "",
            "550 5.1.1 RCP-P2 http://postmaster.facebook.com/response_codes#rcp Refused due to recipient preferences",
            "filtered",
        ),
        (
            "us-smtp-inbound-1.mimecast.com",
            "554 Host network not allowed - https://community.mimecast.com/docs",
            "policyviolation",
        ),
        (
            "ab1pr01.prod.outlook.com",
            "550 5.4.1 Recipient address rejected: Access denied. AS(201806281)",
            "userunknown",
        ),
        ("mx.example.org", "550 5.1.1 User unknown", ""),
    ],
)
def test_provider_codes(mta: str, diag: str, want: str) -> None:
    """The remote host (or the recipient's domain, or a host named in the text) picks the table."""
    assert provider_reason(mta, diag, "", "") == want


def test_failure_code_wins_over_a_transcripts_success() -> None:
    text = "Out: 250 2.1.5 Ok In: DATA Out: 451 4.3.0 Error: queue file write error"
    assert find_status(text) == "4.3.0"
    assert find_reply(text) == "451"


def test_dsn_fields_before_the_recipient_and_unindented_continuation() -> None:
    from bounce_parsers.rfc3464 import fields

    ds = (
        "Reporting-MTA: dns; mx.a.example\n\n"
        "Last-Attempt-Date: Thu, 17 Jul 2017 23:34:45 +0000\n"
        "Diagnostic-Code: smtp; 550-Please turn on SMTP Authentication in your mail client.\n"
        "550 relay through this server without authentication.\n"
        "Status: 5.0.0\nAction: failed\nFinal-Recipient: rfc822; a@b.example\n\n"
        "Action: failed\nFinal-Recipient: rfc822; c@d.example\nOriginal-Recipient: rfc822; c@d.example\n"
        "Status: 4.3.0\n"
    )
    meta, entries = fields(ds)
    assert [e.recipient for e in entries] == ["a@b.example", "c@d.example"]
    assert entries[0].status == "5.0.0" and entries[0].action == "failed"
    assert entries[0].diagnostic.endswith("without authentication.")
    assert entries[1].status == "4.3.0" and not entries[1].diagnostic
    assert meta["reporting-mta"] == "dns; mx.a.example"


def test_provider_known_from_the_reporting_mta() -> None:
    from bounce_parsers import classify

    raw = (
        b"From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>\r\nTo: s@a.example\r\n"
        b"Subject: Delivery Status Notification (Failure)\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n"
        b"--b\r\nContent-Type: text/plain\r\n\r\n** Address not found **\r\n\r\n"
        b"--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; googlemail.com\r\n\r\n"
        b"Final-Recipient: rfc822; r@b.example\r\nAction: failed\r\nStatus: 5.0.0\r\n"
        b"Diagnostic-Code: smtp; Your message wasn't delivered to r@b.example because the address "
        b"couldn't be found. Check for typos or unnecessary spaces and try again.\r\n\r\n--b--\r\n"
    )
    (r,) = classify(raw).recipients
    assert (r.address, r.reason, r.hard) == ("r@b.example", "userunknown", True)


@pytest.mark.parametrize(
    ("status", "reply", "command", "diag", "want"),
    [
        # X.7.X is the refusal itself: the words need only say whom it is about
        ("5.7.1", "550", "", "550 5.7.1 Client IP 192.0.2.1 is on the local deny list", "blocked"),
        ("5.7.1", "554", "", "554 5.7.1 This mailbox does not accept messages from your domain", "rejected"),
        ("5.7.1", "550", "", "550 5.7.1 Delivery not authorized to this recipient by policy", "policyviolation"),
        # ... but the client's own authentication stays the security class's
        ("5.7.57", "530", "", "530 5.7.57 Client not authenticated to send mail", "securityerror"),
        # the same words without a policy code and without refusal words name no refusal
        ("", "550", "", "550 Client IP 192.0.2.1 noted", "onhold"),
        # a permanent failure naming the addressee with a negation, nothing else said
        ("5.0.0", "550", "", "550 That recipient is not valid here", "userunknown"),
        ("5.0.0", "550", "", "550 [kim@b.example]: Recipient verification failed", "userunknown"),
        ("4.0.0", "450", "", "450 [kim@b.example]: Recipient verification failed", "onhold"),
        ("5.0.0", "550", "DATA", "550 [kim@b.example]: Recipient verification failed", "onhold"),
        # what is listed: the client, or a link inside the message
        ("5.7.1", "550", "CONN", "550 5.7.1 Your IP is on a block list", "blocked"),
        ("5.7.1", "550", "DATA", "550 5.7.1 Content rejected: URL in message is on a block list", "spamdetected"),
        # the code settles words that point two ways
        ("5.1.1", "550", "", "550 5.1.1 Mailbox unknown or disabled", "userunknown"),
        ("4.4.2", "421", "", "421 4.4.2 Connection timed out while reading from mx.b.example", "networkerror"),
        ("4.4.7", "421", "", "421 4.4.7 Message expired: connection timed out", "expired"),
        # an X.4.X detail the table lacks is still the network
        ("5.4.9", "550", "", "550 5.4.9 Routing problem", "networkerror"),
    ],
)
def test_structure_before_words(status: str, reply: str, command: str, diag: str, want: str) -> None:
    assert find(status, reply, command, diag, "SMTP", "failed") == want


@pytest.mark.parametrize(
    ("diag", "want"),
    [
        ("Mailbox quota usage exceeded", "mailboxfull"),
        ("Boîte aux lettres du destinataire pleine", "mailboxfull"),
        ("This account has been closed", "suspend"),
        ("Message size exceeds fixed limit", "mesgtoobig"),
        ("Insufficient system storage", "systemfull"),
        ("Retry timeout exceeded", "expired"),
        ("Mail server temporarily rejected message", "systemerror"),
        ("Thank you", ""),
    ],
)
def test_word_families(diag: str, want: str) -> None:
    """A thing and its state, as stems: wordings no phrase table lists still find their reason."""
    assert family(diag.lower()) == want


def test_state_word_hints_only_skip_texts_the_pattern_cannot_match() -> None:
    """The hints that let a text skip the addressee grammar change no answer on any sample."""
    from bounce_parsers.reasons import rules

    from . import reason_samples, reason_validation

    texts = [s.diagnostic.lower() for s in reason_samples.SAMPLES + reason_samples.HOLDOUT + reason_validation.SAMPLES]
    texts += ["caixa postal inexistente", "utente inesistente", "benutzer ungültig", "usuario inválido", "user vol"]
    for pattern, hints in (
        (rules._ADDRESSEE_GONE, rules.GONE_HINTS),
        (rules._ADDRESSEE_FULL, rules.FULL_HINTS),
        (rules._ADDRESSEE_OFF, rules.OFF_HINTS),
    ):
        for text in texts:
            assert rules._addressee_is(pattern, text, hints) == rules._addressee_is(pattern, text), text

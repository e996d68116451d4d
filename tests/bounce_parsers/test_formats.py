"""One synthetic sample per format module, written as a table: (module, headers, body,
expected recipients as (address, reason, hard))."""

from __future__ import annotations

import pytest

from bounce_parsers import classify
from bounce_parsers.formats import REGISTRY

from .conftest import mail

QMAIL = """Hi. This is the qmail-send program at mx.example.jp.
I'm afraid I wasn't able to deliver your message to the following addresses.
This is a permanent error; I've given up. Sorry it didn't work out.

<nobody@example.ne.jp>:
Sorry, no mailbox here by that name. (#5.1.1)

<far@nowhere.example>:
Sorry, I couldn't find any host named nowhere.example. (#5.1.2)

--- Below this line is a copy of the message.

From: sender@example.jp
"""
EXIM = """This message was created automatically by mail delivery software.

A message that you sent could not be delivered to one or more of its
recipients. This is a permanent error. The following address(es) failed:

  gone@example.org
    Unrouteable address

  full@example.org
    SMTP error from remote mail server after RCPT TO:<full@example.org>:
    host mx.example.org [192.0.2.1]: 552 5.2.2 Mailbox full

------ This is a copy of the message, including all the headers. ------

From: sender@example.jp
"""
EXCHANGE2003 = """Your message

  To:      who@example.jp
  Subject: Hello

did not reach the following recipient(s):

who@example.jp on Thu, 29 Apr 2010 00:00:00 -0000
    The recipient name is not recognized
    MSEXCH:IMS:NNN:X:Y 0 (000C05A6) Unknown Recipient
"""
GROUPS = """We're writing to let you know that the group you tried to contact (team) may not exist, or you may
not have permission to post messages to the group. A few more details on why you weren't able to post:
 * You might have spelled or formatted the group name incorrectly.
If you have questions related to this or any other Google Group, visit the Help Center at
https://groups.google.com/support/.
"""
SES = (
    '{"notificationType":"Bounce","bounce":{"bounceType":"Permanent","bounceSubType":"General",'
    '"bouncedRecipients":[{"emailAddress":"nobody@example.com","action":"failed","status":"5.1.1",'
    '"diagnosticCode":"smtp; 550 5.1.1 user unknown"}],"reportingMTA":"dsn; a1-2.smtp-out.amazonses.com"},'
    '"mail":{"source":"s@example.org"}}\n'
)

SENDMAIL = """The original message was received at Thu, 29 Apr 2010 23:34:45 +0900
from mx.example.jp [192.0.2.1]

   ----- The following addresses had permanent fatal errors -----
<nobody@example.org>
    (reason: 550 5.1.1 <nobody@example.org>... User unknown)

   ----- Transcript of session follows -----
... while talking to mx.example.org.:
>>> RCPT To:<nobody@example.org>
<<< 550 5.1.1 <nobody@example.org>... User unknown
550 5.1.1 <nobody@example.org>... User unknown

   ----- Original message follows -----
From: sender@example.jp
"""
POSTFIX = """This is the mail system at host mx.example.jp.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients. It's attached below.

                   The mail system

<nobody@example.org>: host mx.example.org[192.0.2.2] said: 550 5.1.1
    <nobody@example.org>: Recipient address rejected: User unknown in local
    recipient table (in reply to RCPT TO command)
"""
GMAIL = """Delivery to the following recipient failed permanently:

     full@example.org

Technical details of permanent failure:
Google tried to deliver your message, but it was rejected by the server for the recipient domain example.org
by mx.example.org. [192.0.2.3].

The error that the other server returned was:
552 5.2.2 <full@example.org>... Mailbox full

----- Original message -----
"""
OPENSMTPD = """Hi!

This is the MAILER-DAEMON, please DO NOT REPLY to this e-mail.

An error has occurred while attempting to deliver a message for
the following list of recipients:

nobody@example.org: 550 5.1.1 <nobody@example.org>: Recipient address rejected: User unknown

Below is a copy of the original message:
"""
DOMINO = """Your message

  Subject: Hello

was not delivered to:

  nobody@example.org

because:

  User nobody (nobody@example.org) not listed in Domino Directory
"""
NOTES = """------- Failure Reasons  --------

User not listed in public Name & Address Book
nobody@example.org

------- Returned Message --------
From: sender@example.jp
"""
EXCHANGE2007 = """Delivery has failed to these recipients or groups:

Nobody<mailto:nobody@example.org>
The e-mail address you entered couldn't be found.

Diagnostic information for administrators:

Generating server: mail.example.org

nobody@example.org
#550 5.1.1 RESOLVER.ADR.RecipNotFound; not found ##

Original message headers:

From: sender@example.jp
"""
DRAGONFLY = """This is the DragonFly Mail Agent v0.13 at df.example.jp.

There was an error delivering your mail to <nobody@example.org>.

mx.example.org [192.0.2.4] did not like our RCPT TO:
550 5.1.1 <nobody@example.org>: Recipient address rejected: User unknown

Original message follows.
"""
EZWEB = """The user(s) account is disabled.

<gone@ezweb.ne.jp>
"""
KDDI = """Your mail sent on: Thu, 29 Apr 2013 23:45:22 +0900
     Could not be delivered to: <full@example.dion.ne.jp>
     As their mailbox is full.
"""
MFILTER = """kijitora@example.org

-------server message
550 5.1.1 <kijitora@example.org>... User unknown

-------SMTP command
RCPT

-------original message
From: sender@example.jp
"""
IMAIL = """Unknown user: nobody@example.org


Original message follows.

From: sender@example.jp
"""
INTERSCAN = """****** Message from InterScan Messaging Security Suite ******

Sent <<< RCPT TO:<nobody@example.org>
Received >>> 550 5.1.1 <nobody@example.org>... User unknown

Unable to deliver message to <nobody@example.org>.
"""
ZOHO = """This message was created automatically by mail delivery software.
A message that you sent could not be delivered to one or more of its recipients. This is a permanent error.

nobody@example.org Invalid Address, ERROR_CODE :550, ERROR_CODE :5.1.1 <nobody@example.org> User unknown
"""
FML = """Duplicated Message-ID in <list@example.jp>.

Original mail as follows:
"""
APACHEJAMES = """Error: Invalid user address

Error message below:
550 5.1.1 Requested action not taken: no such user here

Message details:
  Subject: Hello
  MAIL FROM: sender@example.jp
  RCPT TO: nobody@example.org
"""
VERIZON = """Message could not be delivered to mobile.
Error: No valid recipients for this MM

Original Message:
From: sender@example.jp
To: 5555550100@vzwpix.com
Subject: Hello
"""
X6 = """We had trouble delivering your message. Full details follow:

Subject: 'Hello'

1 error(s):

The following recipients returned permanent errors: nobody@example.org. Reason: SMTP Server <192.0.2.5> \
refused to accept your message (RCPT), with the following error text: 550 5.1.1 User unknown
"""
MAILMARSHAL = """Your message:
   From:    sender@example.jp
   Subject: Hello

Could not be delivered because of

550 5.1.1 User unknown

The following recipients were affected:
    nobody@example.org

Additional information follows:
"""
MAILFOUNDRY = """Unable to deliver message to: <nobody@example.org>
Delivery failed for the following reason:
Server mx.example.org[192.0.2.2] failed with: 550 5.1.1 <nobody@example.org> No such user here

This has been a permanent failure.  No further delivery attempts will be made.
"""
MIMECAST = """This is an automated alert notification. Please do not reply.

An email that you attempted to send to the following address could not be delivered:
-- nobody@example.org

The problem appears to be :
-- Recipient email address is possibly incorrect

Additional information follows :
-- 5.4.1 Recipient address rejected: Access denied. [AB1PR01.prod.outlook.com]

This condition occurred after 1 attempt(s) to deliver over
a period of 0 hour(s).
"""
MESSAGINGSERVER = """This report relates to a message you sent with the following header fields:

  Message-id: <1@example.jp>
  From: sender@example.jp
  To: nobody@example.org

Your message cannot be delivered to the following recipients:

  Recipient address: nobody@example.org
  Reason: Remote SMTP server has rejected address
  Diagnostic code: smtp;550 5.1.1 <nobody@example.org>... User unknown
  Remote system: dns;mx.example.org (TCP|192.0.2.1|25|192.0.2.2|25) (mx.example.org ESMTP)
"""
EZWEB_FILTER = """<nobody@ezweb.ne.jp>

Each of the following recipients was rejected by a remote mail server.
"""
INTERSCAN_SHORT = """****** Message from InterScan Messaging Security Suite ******

The following mail could not be delivered.
Reason:  Unable to deliver message to <nobody@example.org> (and other recipients in the same domain).

************************     End of message     **********************
"""
NOTES_SPACED = NOTES.replace("User not listed", "User  not listed")
DAEMON = {"From": "Mail Delivery Subsystem <MAILER-DAEMON@mx.example.jp>", "Subject": "Returned mail: User unknown"}
UNKNOWN = [("nobody@example.org", "userunknown", True)]

CASES = [
    (
        "qmail",
        {"From": "MAILER-DAEMON@mx.example.jp", "Subject": "failure notice"},
        QMAIL,
        [("nobody@example.ne.jp", "userunknown", True), ("far@nowhere.example", "hostunknown", True)],
    ),
    (
        "exim",
        {
            "From": "Mail Delivery System <Mailer-Daemon@mx.example.jp>",
            "Subject": "Mail delivery failed",
            "X-Failed-Recipients": "gone@example.org, full@example.org",
        },
        EXIM,
        [("gone@example.org", "hostunknown", True), ("full@example.org", "mailboxfull", False)],
    ),
    (
        "exchange2003",
        {"From": "System Administrator <postmaster@example.jp>", "Subject": "Undeliverable: Hello"},
        EXCHANGE2003,
        [("who@example.jp", "userunknown", True)],
    ),
    (
        "googlegroups",
        {
            "From": "Mail Delivery Subsystem <mailer-daemon@googlemail.com>",
            "Subject": "Delivery Status Notification (Failure)",
            "X-Failed-Recipients": "team@googlegroups.com",
        },
        GROUPS,
        [("team@googlegroups.com", "rejected", False)],
    ),
    (
        "amazonses",
        {"From": "no-reply@sns.amazonaws.com", "Subject": "AWS Notification Message"},
        SES,
        [("nobody@example.com", "userunknown", True)],
    ),
    ("sendmail", DAEMON, SENDMAIL, UNKNOWN),
    (
        "postfix",
        {
            "From": "MAILER-DAEMON@mx.example.jp (Mail Delivery System)",
            "Subject": "Undelivered Mail Returned to Sender",
        },
        POSTFIX,
        UNKNOWN,
    ),
    (
        "gmail",
        {
            "From": "Mail Delivery Subsystem <mailer-daemon@googlemail.com>",
            "Subject": "Delivery Status Notification (Failure)",
        },
        GMAIL,
        [("full@example.org", "mailboxfull", False)],
    ),
    (
        "opensmtpd",
        {"From": "Mailer Daemon <MAILER-DAEMON@mx.example.jp>", "Subject": "Delivery status notification: error"},
        OPENSMTPD,
        UNKNOWN,
    ),
    (
        "domino",
        {"From": "Postmaster@example.org", "Subject": "DELIVERY FAILURE: User nobody not listed"},
        DOMINO,
        UNKNOWN,
    ),
    ("notes", {"From": "postmaster@example.org", "Subject": "Undeliverable message"}, NOTES, UNKNOWN),
    ("exchange2007", {"From": "postmaster@example.org", "Subject": "Undeliverable: Hello"}, EXCHANGE2007, UNKNOWN),
    ("dragonfly", {"From": "MAILER-DAEMON <>", "Subject": "Mail delivery failed"}, DRAGONFLY, UNKNOWN),
    (
        "ezweb",
        {"From": "<Postmaster@ezweb.ne.jp>", "Subject": "Mail System Error - Returned Mail"},
        EZWEB,
        [("gone@ezweb.ne.jp", "suspend", False)],
    ),
    (
        "kddi",
        {"From": "no-reply@example.dion.ne.jp", "Subject": "Mail"},
        KDDI,
        [("full@example.dion.ne.jp", "mailboxfull", False)],
    ),
    (
        "mfilter",
        {"From": "POSTMASTER <postmaster@example.org>", "Subject": "failure notice", "X-Mailer": "m-FILTER"},
        MFILTER,
        [("kijitora@example.org", "userunknown", True)],
    ),
    (
        "imailserver",
        {
            "From": '"Postmaster" <postmaster@example.org>',
            "Subject": "Undeliverable Mail",
            "X-Mailer": "<SMTP32 v8.22>",
        },
        IMAIL,
        UNKNOWN,
    ),
    (
        "interscan",
        {"From": '"InterScan MSS" <postmaster@example.org>', "Subject": "Mail could not be delivered"},
        INTERSCAN,
        UNKNOWN,
    ),
    (
        "zoho",
        {
            "From": "mailer-daemon@mail.zoho.com",
            "Subject": "Undelivered Mail Returned to Sender",
            "X-ZohoMail": "Si CHF_MF_NL SS_10",
        },
        ZOHO,
        UNKNOWN,
    ),
    (
        "fml",
        {
            "From": "list-admin@example.jp",
            "Subject": "Loop Alert: Duplicated Message-ID (list ML)",
            "X-MLServer": "fml [fml 4.0.3 release]",
        },
        FML,
        [("list@example.jp", "systemerror", False)],
    ),
    ("apachejames", {"From": "postmaster@example.org", "Subject": "Re:Hello"}, APACHEJAMES, UNKNOWN),
    (
        "verizon",
        {"From": "MMSC NDR Administrator <sysadmin@m01.vzwpix.com>", "Subject": "Undeliverable Message"},
        VERIZON,
        [("5555550100@vzwpix.com", "userunknown", True)],
    ),
    ("mailmarshal", {"From": "postmaster@example.org", "Subject": "Undeliverable Mail"}, MAILMARSHAL, UNKNOWN),
    ("x6", {"From": "mailer-daemon", "Subject": "There was an error sending your mail"}, X6, UNKNOWN),
    (
        "mailfoundry",
        {"From": "MAILER-DAEMON@example.org", "Subject": "Message delivery has failed"},
        MAILFOUNDRY,
        UNKNOWN,
    ),
    (
        "mimecast",
        {"From": "postmaster@example.org", "Subject": "[Postmaster] Email Delivery Failure"},
        MIMECAST,
        UNKNOWN,
    ),
    (
        "messagingserver",
        {"From": "postmaster@example.org", "Subject": "Delivery Notification: Delivery has failed"},
        MESSAGINGSERVER,
        UNKNOWN,
    ),
    # a format's own wording sets the reason where the text alone would not
    (
        "ezweb",
        {"From": "<Postmaster@ezweb.ne.jp>", "Subject": "Mail System Error - Returned Mail"},
        EZWEB_FILTER,
        [("nobody@ezweb.ne.jp", "filtered", False)],
    ),
    (
        "interscan",
        {"From": '"InterScan MSS" <postmaster@example.org>', "Subject": "Mail could not be delivered"},
        INTERSCAN_SHORT,
        UNKNOWN,
    ),
    ("notes", {"From": "postmaster@example.org", "Subject": "Undeliverable message"}, NOTES_SPACED, UNKNOWN),
    (
        "lsoft",
        {"From": "LSMTP-Notify@lists.example.edu", "Subject": "Undeliverable mail"},
        "Error-for:  who@example.edu\nError-Code: 5\nError-Text: 550 5.1.1 User unknown\n",
        [("who@example.edu", "userunknown", True)],
    ),
    (
        "localpart",
        {"From": "MAILER-DAEMON@example.edu", "Subject": "Returned mail: User unknown"},
        "Message not delivered to the following:\n\n    jdoe    No matches to nameserver query\n",
        [("jdoe@example.edu", "userunknown", True)],
    ),
]


def test_every_module_has_a_case() -> None:
    assert {m.NAME for m in REGISTRY} == {c[0] for c in CASES}
    for module in REGISTRY:
        assert callable(module.detect) and callable(module.parse)


@pytest.mark.parametrize(("name", "headers", "body", "want"), CASES, ids=[c[0] for c in CASES])
def test_format(name: str, headers: dict[str, str], body: str, want: list[tuple[str, str, bool]]) -> None:
    c = classify(mail(headers, body))
    assert c.evidence == f"format:{name}"
    assert c.kind == "bounce"
    assert [(r.address, r.reason, r.hard) for r in c.recipients] == want


def test_ses_complaint_and_delivery() -> None:
    comp = (
        '{"notificationType":"Complaint","complaint":{"complainedRecipients":[{"emailAddress":"c@example.com"}],'
        '"complaintFeedbackType":"abuse"}}'
    )
    c = classify(mail({"From": "no-reply@sns.amazonaws.com", "Subject": "AWS Notification Message"}, comp))
    assert c.kind == "complaint" and c.recipients[0].reason == "feedback"
    dl = '{"notificationType":"Delivery","delivery":{"recipients":["d@example.com"],"smtpResponse":"250 2.6.0 ok"}}'
    c = classify(mail({"From": "no-reply@sns.amazonaws.com", "Subject": "AWS Notification Message"}, dl))
    assert c.kind == "delivery" and c.recipients[0].reason == "delivered"


def test_generic_layouts_need_a_machine_sender() -> None:
    """A person quoting a bounce's wording is not a bounce."""
    for body in (SENDMAIL, DOMINO, EXCHANGE2007, GMAIL, OPENSMTPD):
        c = classify(
            mail(
                {
                    "From": "Friend <friend@example.org>",
                    "To": "me@example.com",
                    "Return-Path": "<friend@example.org>",
                    "Subject": "look what I got",
                },
                body,
            )
        )
        assert c.evidence.startswith("format:") is False, c.evidence


def test_o365_short_ndr() -> None:
    body = (
        "Your message to gone@example.org couldn't be delivered.\n\ngone wasn't found at example.org.\n\n"
        "Remote Server returned '550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found'\n"
    )
    c = classify(
        mail(
            {"From": "Microsoft Outlook <postmaster@example.onmicrosoft.com>", "Subject": "Undeliverable: Hello"}, body
        )
    )
    assert c.evidence == "format:exchange2007" and [r.address for r in c.recipients] == ["gone@example.org"]


@pytest.mark.parametrize(
    "body",
    [
        "----- Transcript of session follows -----\n" + "a@" * 50_000 + "\n",
        "Could not be delivered to: <" + "a@" * 50_000 + "\n",
        "Diagnostic information for administrators:\nGenerating server: x\n" + "a@" * 50_000 + "\n",
        "----- The following addresses had " + "- " * 50_000 + "x\n",
        "a" * 200_000 + "\n",
    ],
    ids=["transcript", "kddi", "exchange", "dashes", "long-token"],
)
def test_no_quadratic_regexes(body: str) -> None:
    import time

    start = time.perf_counter()
    classify(mail({"From": "MAILER-DAEMON@x.example", "Subject": "Returned mail: x", "Return-Path": "<>"}, body))
    assert time.perf_counter() - start < 2.0


def test_gateway_wrapping_a_whole_dsn() -> None:
    """A gateway that returns the DSN it received as message/rfc822: the inner DSN's status
    and diagnostic decide, not the outer "Returned mail: User unknown" subject."""
    inner = (
        "From: Mail Delivery Subsystem <MAILER-DAEMON@relay.example.jp>\nTo: sender@example.jp\n"
        "Subject: Returned mail: User unknown\nMIME-Version: 1.0\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="in"\n\n'
        "--in\n\n   ----- The following addresses had permanent fatal errors -----\nnobody@example.org\n\n"
        "--in\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; relay.example.jp\n\n"
        "Final-Recipient: RFC822; nobody@example.org\nAction: failed\nStatus: 5.1.1\n"
        "Diagnostic-Code: smtp; 550 5.1.1 User unknown\n\n--in--\n"
    )
    body = (
        "--out\nContent-Type: text/plain\n\nThe original message was received at Thu Oct 13 2015\n\n"
        "----- The following addresses had permanent delivery errors -----\n\n\n"
        "--out\nContent-Type: message/rfc822\n\n" + inner + "\n--out--\n"
    )
    raw = mail(
        {
            "From": "Mail Delivery Subsystem <MAILER-DAEMON@gw.example.jp>",
            "Subject": "Returned mail: User unknown",
            "MIME-Version": "1.0",
            "Content-Type": 'multipart/mixed; boundary="out"',
        },
        body,
    )
    (r,) = classify(raw).recipients
    assert (r.address, r.status, r.reason, r.hard) == ("nobody@example.org", "5.1.1", "userunknown", True)


def test_sendmail_transcript_explains_a_listed_address() -> None:
    """Sendmail lists the address, then explains it in the transcript: the explanation is the
    diagnostic, and its words beat the DSN's generic 4.4.7 (queue timeout)."""
    body = (
        "--b\n\n   ----- The following addresses had permanent fatal errors -----\n<nobody@example.org>\n\n"
        "   ----- Transcript of session follows -----\n"
        "<nobody@example.org>... Deferred: Name server: example.org.: host name lookup failure\n"
        "Message could not be delivered for 5 days\nMessage will be deleted from queue\n\n"
        "--b\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.jp\n\n"
        "Final-Recipient: RFC822; nobody@example.org\nAction: failed\nStatus: 4.4.7\n\n--b--\n"
    )
    raw = mail(
        {
            "From": "Mail Delivery Subsystem <MAILER-DAEMON@mx.example.jp>",
            "Subject": "Returned mail: see transcript for details",
            "MIME-Version": "1.0",
            "Content-Type": "multipart/report; report-type=delivery-status; boundary=b",
        },
        body,
    )
    (r,) = classify(raw).recipients
    assert (r.status, r.reason, r.hard) == ("4.4.7", "networkerror", False)
    assert "host name lookup failure" in r.diagnostic


def test_gmail_state_names_the_stage() -> None:
    """Gmail's "(state 18)": refused after the recipients were accepted -> the recipient's filter."""
    body = (
        "Delivery to the following recipient failed permanently:\n\n     nobody@example.org\n\n"
        "Technical details of permanent failure:\n"
        "Google tried to deliver your message, but it was rejected by the recipient domain. We recommend "
        "contacting the other email provider for further information about the cause of this error. "
        "The error that the other server returned was: 550 550 Unknown user nobody@example.org (state 18).\n\n"
        "   ----- Original message -----\n\nFrom: sender@example.jp\n"
    )
    raw = mail(
        {
            "From": "Mail Delivery Subsystem <mailer-daemon@googlemail.com>",
            "Subject": "Delivery Status Notification (Failure)",
        },
        body,
    )
    c = classify(raw)
    assert c.evidence == "format:gmail"
    assert [(r.address, r.reason, r.hard) for r in c.recipients] == [("nobody@example.org", "filtered", False)]


def test_sendmail_session_error_belongs_to_the_next_recipient() -> None:
    """A refused MAIL FROM in the transcript explains the "<addr>... Remote protocol error" after it."""
    body = (
        "   ----- Transcript of session follows -----\nWhile talking to mx.example.org:\n"
        ">>> MAIL From:<sender@example.jp>\n"
        "<<< 501 <sender@example.jp>... no access from mail server [192.0.2.5] which is an open relay.\n"
        "554 <nobody@example.org>... Remote protocol error\n\n   ----- Unsent message follows -----\n"
        "From: sender@example.jp\n"
    )
    raw = mail(
        {
            "From": "Mail Delivery Subsystem <MAILER-DAEMON@mx.example.jp>",
            "Subject": "Returned mail: Remote protocol error",
        },
        body,
    )
    (r,) = classify(raw).recipients
    assert (r.address, r.reason, r.hard) == ("nobody@example.org", "blocked", False)
    assert "open relay" in r.diagnostic


def test_domino_reason_ends_at_its_paragraph() -> None:
    """Domino's "because:" paragraph is the reason; the returned message after it (headers and
    body inline) is no part of it, so its words cannot decide the reason."""
    body = (
        "Your message\n\n  Subject: Storage offer\n\nwas not delivered to:\n\n  nobody@example.org\n\n"
        "because:\n\n  No route found to domain example.org from server MAIL01/ACME.\n\n"
        "Return-Path: <news@example.jp>\nFrom: news@example.jp\nTo: nobody@example.org\n"
        "Subject: Storage offer\n\nIs your mailbox full? Our message size limit is 2 GB.\n"
    )
    raw = mail(
        {"From": "Mail Router <MAILER-DAEMON@mail01.example.org>", "Subject": "DELIVERY FAILURE: No route"}, body
    )
    (r,) = classify(raw).recipients
    assert r.diagnostic == "No route found to domain example.org from server MAIL01/ACME."
    assert (r.reason, r.hard) == ("hostunknown", True)

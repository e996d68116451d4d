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
SES = ('{"notificationType":"Bounce","bounce":{"bounceType":"Permanent","bounceSubType":"General",'
       '"bouncedRecipients":[{"emailAddress":"nobody@example.com","action":"failed","status":"5.1.1",'
       '"diagnosticCode":"smtp; 550 5.1.1 user unknown"}],"reportingMTA":"dsn; a1-2.smtp-out.amazonses.com"},'
       '"mail":{"source":"s@example.org"}}\n')

CASES = [
    ("qmail", {"From": "MAILER-DAEMON@mx.example.jp", "Subject": "failure notice"}, QMAIL,
     [("nobody@example.ne.jp", "userunknown", True), ("far@nowhere.example", "hostunknown", True)]),
    ("exim", {"From": "Mail Delivery System <Mailer-Daemon@mx.example.jp>", "Subject": "Mail delivery failed",
              "X-Failed-Recipients": "gone@example.org, full@example.org"}, EXIM,
     [("gone@example.org", "hostunknown", True), ("full@example.org", "mailboxfull", False)]),
    ("exchange2003", {"From": "System Administrator <postmaster@example.jp>", "Subject": "Undeliverable: Hello"},
     EXCHANGE2003, [("who@example.jp", "userunknown", True)]),
    ("googlegroups", {"From": "Mail Delivery Subsystem <mailer-daemon@googlemail.com>",
                      "Subject": "Delivery Status Notification (Failure)",
                      "X-Failed-Recipients": "team@googlegroups.com"}, GROUPS, [("team@googlegroups.com", "rejected", False)]),
    ("amazonses", {"From": "no-reply@sns.amazonaws.com", "Subject": "AWS Notification Message"}, SES,
     [("nobody@example.com", "userunknown", True)]),
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
    comp = ('{"notificationType":"Complaint","complaint":{"complainedRecipients":[{"emailAddress":"c@example.com"}],'
            '"complaintFeedbackType":"abuse"}}')
    c = classify(mail({"From": "no-reply@sns.amazonaws.com", "Subject": "AWS Notification Message"}, comp))
    assert c.kind == "complaint" and c.recipients[0].reason == "feedback"
    dl = '{"notificationType":"Delivery","delivery":{"recipients":["d@example.com"],"smtpResponse":"250 2.6.0 ok"}}'
    c = classify(mail({"From": "no-reply@sns.amazonaws.com", "Subject": "AWS Notification Message"}, dl))
    assert c.kind == "delivery" and c.recipients[0].reason == "delivered"

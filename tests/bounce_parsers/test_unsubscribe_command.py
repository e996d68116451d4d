"""Unsubscribe requests people type: in the Subject (what a mailto: List-Unsubscribe link fills in) or
as the first line of a reply. Everything else a person writes stays human mail."""

from __future__ import annotations

import pytest

from bounce_parsers import classify

from .conftest import mail

ASKS = [
    ("unsubscribe", "", "subject"),
    ("Unsubscribe", "please take me off\n", "subject"),
    ("Re: UNSUBSCRIBE ME", "", "subject"),
    ("AW: Abmelden", "", "subject"),
    ("remove me please!", "", "subject"),
    ("opt-out", "", "subject"),
    ("Re: Spring news", "Unsubscribe\n\nOn Monday, News <news@example.com> wrote:\n> Spring is here\n", "body"),
    ("Re: Spring news", "\n  STOP  \n> quoted newsletter\n", "body"),
    ("", "désabonner\n", "body"),
]
HUMAN = [
    ("How do I unsubscribe?", "I can't find the link.\n"),
    ("Re: Spring news", "Lovely newsletter, where can I buy the blue one?\nunsubscribe\n"),
    ("Stop the press: a question", "Is the sale still on?\n"),
    ("Re: Spring news", "> unsubscribe\nWhy would anyone unsubscribe from this?\n"),
    ("Re: unsubscribe link broken", "The link gives a 404.\n"),
]


@pytest.mark.parametrize(("subject", "body", "where"), ASKS)
def test_an_unsubscribe_command_is_an_unsubscribe_request(subject: str, body: str, where: str) -> None:
    c = classify(mail({"From": "Kiji <Kiji@Example.net>", "To": "noreply@sender.example", "Subject": subject,
                       "In-Reply-To": "<m7@sender.example>"}, body))  # fmt: skip
    assert (c.kind, c.evidence) == ("unsubscribe", f"unsubscribe-command:{where}")
    assert [(r.address, r.reason, r.hard) for r in c.recipients] == [("Kiji@example.net", "unsubscribe", False)]
    assert c.original_message_id == "m7@sender.example"


@pytest.mark.parametrize(("subject", "body"), HUMAN)
def test_a_person_mentioning_unsubscribing_is_human_mail(subject: str, body: str) -> None:
    c = classify(mail({"From": "kiji@example.net", "To": "noreply@sender.example", "Subject": subject}, body))
    assert (c.kind, c.recipients) == ("none", ())


def test_machine_mail_saying_unsubscribe_is_not_a_request() -> None:
    auto = classify(mail({"From": "kiji@example.net", "Subject": "unsubscribe", "Auto-Submitted": "auto-replied"},
                         "I am away.\n"))  # fmt: skip
    assert auto.kind == "autoreply"

"""Signup mails through real servers: the confirmation arrives in a Dovecot mailbox through the Postfix relay
and its link confirms; one to an unknown user comes back as a DSN that the sweep ties to that message; a 4xx
is retried on the schedule and a 5xx fails with a bounce attributed to the message."""

import email
import email.policy
import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import select
from sqlmodel import Session, col

from app.bounces.sweep import run_sweep
from app.main import create_app
from app.models import Bounce, Suppression, TransactionalMessage, utcnow
from app.settings import Settings
from app.subscription.mail import send_due
from tests.bounces.support import mailbox_settings
from tests.sending.conftest import relay_settings
from tests.sending.sink import Sink, SinkServer
from tests.subscription.support import job_ran, membership, messages, signup_list

NOREPLY = "noreply@example.test"


def _relay(settings: Settings, mail) -> Settings:  # type: ignore[no-untyped-def]
    return settings.model_copy(update={
        "smtp_host": mail.host, "smtp_port": mail.submission_port, "smtp_security": "starttls",
        "smtp_cafile": mail.cafile, "smtp_username": NOREPLY, "smtp_password": SecretStr(mail.users[NOREPLY]),
        "smtp_timeout": 10.0, "bounce_address": NOREPLY,
    })  # fmt: skip


def _message(raw: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)  # type: ignore[return-value]


@pytest.mark.mailstack
def test_the_confirmation_arrives_and_a_bounced_one_is_tied_to_its_message(mail, settings, engine) -> None:  # type: ignore[no-untyped-def]
    s = mailbox_settings(_relay(settings, mail), mail)
    list_id = signup_list(engine, "Weekly", confirm_subject="Confirm {{ list_name }}, {{ first_name }}")
    with TestClient(create_app(s)) as client:
        assert (
            client.post(f"/s/{list_id}", data={"email": "alice@example.test", "first_name": "Alice"}).status_code == 200
        )
        assert client.post(f"/s/{list_id}", data={"email": "ghost@example.test"}).status_code == 200
        assert messages(engine) == []  # nothing made, let alone sent, while answering
        job_ran(engine)
        assert send_due(engine, s) == 2
        [raw] = mail.wait_for_messages("alice@example.test", 1, timeout=15)
        msg = _message(raw)
        assert msg["Subject"] == "Confirm Weekly, Alice" and msg["From"].addresses[0].display_name == "Weekly"
        assert re.fullmatch(r"<noreply\+t[0-9a-z]+-[a-z2-7]{12}@example\.test>", msg["Return-Path"])
        link = re.search(r"http://testserver(/s/confirm/\S+)", msg.get_body(("plain",)).get_content())
        assert link, msg.get_body(("plain",)).get_content()
        assert client.post(link.group(1)).status_code == 200
        assert membership(engine, list_id, "alice@example.test") == "subscribed"

        mail.wait_for_messages(NOREPLY, 1, timeout=20)  # Postfix's DSN for the unknown user
        sweep = run_sweep(s, engine)
        assert sweep is not None and sweep.state == "done", sweep
    ghost = next(m for m in messages(engine) if m.email == "ghost@example.test")
    assert ghost.state == "bounced"
    with Session(engine) as session:
        [bounce] = session.execute(select(Bounce)).scalars().all()
        assert (bounce.email, bounce.transactional_id, bounce.attribution) == ("ghost@example.test", ghost.id, "verp")
        assert bounce.hard and bounce.reason == "userunknown"
        suppressed = session.execute(select(Suppression).where(col(Suppression.email_key) == "ghost@example.test"))
        assert suppressed.scalars().one().reason == "bounced"


def test_a_4xx_is_retried_on_the_schedule_and_a_5xx_fails_with_an_attributed_bounce(settings, engine) -> None:  # type: ignore[no-untyped-def]
    list_id = signup_list(engine)
    with SinkServer(Sink()) as sink, TestClient(create_app(settings)) as client:
        s = relay_settings(settings, sink.port)
        sink.sink.rcpt_script["later@sink.test"] = ["451 4.7.1 greylisted, try again later"]
        sink.sink.rcpt_script["never@sink.test"] = ["550 5.1.1 no such user"]
        for address in ("later@sink.test", "never@sink.test"):
            assert client.post(f"/s/{list_id}", data={"email": address}).status_code == 200
        job_ran(engine)
        assert send_due(engine, s) == 0
        by_address = {m.email: m for m in messages(engine)}
        later, never = by_address["later@sink.test"], by_address["never@sink.test"]
        assert (later.state, later.attempts) == ("deferred", 1) and later.last_reply.startswith("451")
        assert later.next_attempt_at == later.created_at + timedelta(minutes=s.retry_minutes[0])
        assert never.state == "failed"
        assert send_due(engine, s) == 0  # not due yet
        assert send_due(engine, s, now=utcnow() + timedelta(minutes=s.retry_minutes[0], seconds=1)) == 1
        assert [a.rcpt for a in sink.sink.accepted] == ["later@sink.test"]
        assert "/s/confirm/k" in sink.sink.accepted[0].data.decode()
    with Session(engine) as session:
        sent = session.get(TransactionalMessage, later.id)
        assert sent is not None and (sent.state, sent.attempts) == ("sent", 2)
        [bounce] = session.execute(select(Bounce)).scalars().all()
        assert (bounce.email, bounce.transactional_id, bounce.source) == ("never@sink.test", never.id, "smtp")
        assert bounce.hard


@pytest.mark.mailstack
def test_the_signup_mails_speak_the_contacts_language_else_the_installations(mail, settings, engine) -> None:  # type: ignore[no-untyped-def]
    s = _relay(settings, mail)
    german_installation = s.model_copy(update={"default_language": "de"})
    list_id = signup_list(engine, "Wochenpost")
    with TestClient(create_app(s)) as client:
        for address, browser in (("bob@", "de-DE,de;q=0.9"), ("carol@", ""), ("dave@", "en-GB")):
            headers = {"Accept-Language": browser} if browser else {}
            client.post(f"/s/{list_id}", data={"email": f"{address}example.test"}, headers=headers)
        # a job has no request: each mail speaks its contact's language, one without any the installation's
        job_ran(engine)
        assert send_due(engine, german_installation) == 3
        bob, carol, dave = (
            _message(mail.wait_for_messages(f"{who}@example.test", 1, timeout=15)[0])
            for who in ("bob", "carol", "dave")
        )
        for german in (bob, carol):
            assert german["Subject"] == "Bitte bestätigen Sie Ihr Abonnement von Wochenpost"
            text = german.get_body(("plain",)).get_content()
            assert text.startswith("Guten Tag,") and re.search(r"\d\d\.\d\d\.\d{4} \d\d:\d\d UTC", text), text
        assert dave["Subject"] == "Please confirm your subscription to Wochenpost"
        assert re.search(r"works until \d{4}-\d\d-\d\d \d\d:\d\d UTC", dave.get_body(("plain",)).get_content())

        # bob's confirmation pages speak his language whatever the browser that opens them
        link = re.search(r"http://testserver(/s/confirm/\S+)", bob.get_body(("plain",)).get_content())
        assert link
        page = client.get(link.group(1), headers={"Accept-Language": "en"})
        assert "Bestätigen Sie Ihr Abonnement" in page.text
        assert "Abonnement bestätigt" in client.post(link.group(1)).text

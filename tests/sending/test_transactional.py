"""Transactional messages (POST /api/v1/messages): through the real Postfix relay into a Dovecot mailbox, once per
Idempotency-Key, a bounce tied back to the message by the sweep; the request's errors name their field; a
suppressed address is refused with its reason; the workers send a transactional message ahead of a queued
campaign."""

import email
import email.policy
import threading
from email.message import EmailMessage

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine, select
from sqlmodel import Session, col

from app import db
from app.bounces.sweep import run_sweep
from app.main import create_app
from app.models import Bounce, Contact, Delivery, MessageContent, MessageTemplate, Suppression, utcnow
from app.sending import campaigns as service
from app.settings import Settings
from tests.bounces.support import mailbox_settings
from tests.conftest import make_api_key
from tests.sending.conftest import bulk_list, make_campaign, make_list, relay_settings, run_worker_until
from tests.sending.sink import SinkServer
from tests.support.network import free_port

NOREPLY = "noreply@example.test"
RESET = {"subject": "Reset your password, {{ name }}", "html_template": '<a href="{{ url }}">Reset</a>',
         "text_template": "Reset it here: {{ url }}\n"}  # fmt: skip


def _relay(settings: Settings, mail) -> Settings:  # type: ignore[no-untyped-def]
    return settings.model_copy(update={
        "smtp_host": mail.host, "smtp_port": mail.submission_port, "smtp_security": "starttls",
        "smtp_cafile": mail.cafile, "smtp_username": NOREPLY, "smtp_password": SecretStr(mail.users[NOREPLY]),
        "smtp_timeout": 10.0, "bounce_address": NOREPLY, "worker_poll_seconds": 0.05,
    })  # fmt: skip


def _client(settings: Settings, engine: Engine) -> TestClient:
    client = TestClient(create_app(settings))
    client.headers["Authorization"] = f"Bearer {make_api_key(engine)}"
    return client


def _template(engine: Engine) -> int:
    with Session(engine) as session:
        row = MessageTemplate(name="Password reset", **RESET)
        session.add(row)
        session.commit()
        assert row.id is not None
        return row.id


def _parsed(raw: bytes) -> EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)  # type: ignore[return-value]


@pytest.mark.mailstack
def test_a_saved_template_arrives_in_the_mailbox_once_per_idempotency_key(mail, settings, engine) -> None:  # type: ignore[no-untyped-def]
    s = _relay(settings, mail)
    template_id = _template(engine)
    request = {"to": "alice@example.test", "template_id": template_id, "reference": "reset-77",
               "data": {"name": "Alice", "url": "https://shop.example/reset/abc"}}  # fmt: skip
    with _client(s, engine) as client:
        first = client.post("/api/v1/messages", json=request, headers={"Idempotency-Key": "reset-77"})
        again = client.post("/api/v1/messages", json=request, headers={"Idempotency-Key": "reset-77"})
        assert first.status_code == 201, first.text
        assert first.json()["state"] == "sent" and first.json()["reference"] == "reset-77"
        assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
        assert again.json()["id"] == first.json()["id"]
        read = client.get(f"/api/v1/messages/{first.json()['id']}").json()
        listed = client.get("/api/v1/messages").json()["items"]
    assert read["state"] == "sent" and read["api_key_id"] is not None and read["template_id"] == template_id
    assert [m["id"] for m in listed] == [read["id"]]
    [raw] = mail.wait_for_messages("alice@example.test", 1, timeout=15)
    msg = _parsed(raw)
    assert msg["Subject"] == "Reset your password, Alice"
    assert "https://shop.example/reset/abc" in msg.get_body(("plain",)).get_content()
    assert msg["Return-Path"].startswith("<noreply+d") and msg["Message-ID"] == read["message_id"]
    assert msg["Precedence"] is None and msg["List-Unsubscribe"] is None  # no list mail
    with Session(engine) as session:  # one ledger row: the repeat sent nothing
        rows = session.execute(select(Delivery).where(col(Delivery.transactional))).scalars().all()
    assert [(r.id, r.state, r.attempts) for r in rows] == [(read["id"], "sent", 1)]


@pytest.mark.mailstack
def test_a_bounce_of_a_transactional_message_is_recorded_against_it(mail, settings, engine) -> None:  # type: ignore[no-untyped-def]
    s = mailbox_settings(_relay(settings, mail), mail)
    request = {"to": "ghost@example.test", "subject": "Your receipt", "text": "Thanks for order {{ order }}\n",
               "data": {"order": 1234}}  # fmt: skip
    with _client(s, engine) as client:
        sent = client.post("/api/v1/messages", json=request)
        assert sent.status_code == 201 and sent.json()["state"] == "sent", sent.text
        mail.wait_for_messages(NOREPLY, 1, timeout=20)  # Postfix's DSN for the unknown user
        sweep = run_sweep(s, engine)
        assert sweep is not None and sweep.state == "done", sweep
        read = client.get(f"/api/v1/messages/{sent.json()['id']}").json()
    assert read["state"] == "bounced"
    with Session(engine) as session:
        [bounce] = session.execute(select(Bounce)).scalars().all()
    assert (bounce.delivery_id, bounce.attribution, bounce.hard) == (read["id"], "verp", True)


def test_request_errors_name_their_field(client: TestClient, engine: Engine) -> None:
    template_id = _template(engine)
    cases = [
        ({"to": "not an address", "subject": "s", "text": "t"}, "to"),
        ({"to": "a@example.test", "text": "t"}, "subject"),
        ({"to": "a@example.test", "subject": "s"}, "html"),
        ({"to": "a@example.test", "template_id": 999999}, "template_id"),
        ({"to": "a@example.test", "template_id": template_id, "subject": "s"}, "template_id"),
        ({"to": "a@example.test", "template_id": template_id, "data": {"name": "Ann"}}, "data"),  # no url
        ({"to": "a@example.test", "subject": "s", "html": "{% if %}"}, "html"),
        ({"to": "a@example.test", "subject": "s", "text": "t", "identity_id": 999999}, "identity_id"),
        ({"to": "a@example.test", "subject": "s", "text": "t", "colour": "red"}, "colour"),
    ]
    for body, field in cases:
        answer = client.post("/api/v1/messages", json=body)
        assert answer.status_code == 422, (body, answer.text)
        assert [e["field"] for e in answer.json()["errors"]] == [field], (body, answer.json())
    missing = client.post("/api/v1/messages", json={"to": "a@example.test", "template_id": template_id})
    assert "url" in missing.json()["errors"][0]["msg"] or "name" in missing.json()["errors"][0]["msg"]
    assert client.get("/api/v1/messages/424242").status_code == 404


def test_a_suppressed_address_is_refused_with_its_reason_and_an_unsubscribe_does_not_stop_it(
    settings: Settings, engine: Engine, sink: SinkServer
) -> None:
    s = relay_settings(settings, sink.port)
    with Session(engine) as session:
        session.add(Suppression(email="gone@sink.test", email_key="gone@sink.test", reason="bounced", source="test"))
        session.add(Suppression(email="left@sink.test", email_key="left@sink.test", reason="unsubscribed", source="t"))
        session.commit()
    with _client(s, engine) as client:
        refused = client.post("/api/v1/messages", json={"to": "gone@sink.test", "subject": "s", "text": "t"})
        taken = client.post("/api/v1/messages", json={"to": "left@sink.test", "subject": "s", "text": "t"})
    assert refused.status_code == 422
    [error] = refused.json()["errors"]
    assert error["field"] == "to" and "bounced" in error["msg"]
    assert taken.status_code == 201 and taken.json()["state"] == "sent", taken.text
    assert sink.sink.counts() == {"left@sink.test": 1}


def test_the_workers_send_a_transactional_message_ahead_of_a_queued_campaign(
    settings: Settings, engine: Engine, sink: SinkServer
) -> None:
    s = relay_settings(settings, sink.port, worker_batch=20, smtp_connections=1)
    with Session(engine) as session:
        campaign = make_campaign(
            session,
            [bulk_list(engine, "big", 300)],
            subject="News",
            html_template="<p>News</p>",
            text_template="News\n",
        )
        service.launch(session, campaign, s, utcnow())
        session.commit()
    unreachable = s.model_copy(update={"smtp_port": free_port()})  # the request cannot reach the relay
    with _client(unreachable, engine) as client:
        left = client.post("/api/v1/messages", json={"to": "urgent@sink.test", "subject": "Code", "text": "123"})
    assert left.status_code == 201 and left.json()["state"] == "queued", left.text
    run_worker_until(s, engine, lambda: sink.sink.counts()["urgent@sink.test"] == 1)
    order = [a.rcpt for a in sink.sink.accepted]
    assert order.index("urgent@sink.test") == 0  # first, before 300 rows due earlier
    with _client(s, engine) as client:
        assert client.get(f"/api/v1/messages/{left.json()['id']}").json()["state"] == "sent"


def test_erasure_removes_a_transactional_messages_content_and_refuses_the_next(
    settings: Settings, engine: Engine, sink: SinkServer
) -> None:
    s = relay_settings(settings, sink.port)
    with Session(engine) as session:
        make_list(session, "team", [("erin@sink.test", "Erin", {})])
        contact_id = session.execute(select(Contact.id)).scalar_one()
    with _client(s, engine) as client:
        sent = client.post("/api/v1/messages", json={"to": "erin@sink.test", "subject": "Hi {{ first_name }}",
                                                     "text": "Your order {{ order }}", "data": {"order": "A-17"}})  # fmt: skip
        assert sent.status_code == 201 and sent.json()["state"] == "sent", sent.text
        assert client.delete(f"/api/v1/contacts/{contact_id}").status_code == 204
        read = client.get(f"/api/v1/messages/{sent.json()['id']}").json()
        again = client.post("/api/v1/messages", json={"to": "erin@sink.test", "subject": "s", "text": "t"})
    assert read["to"] == "" and read["state"] == "sent"
    assert sink.sink.accepted[0].data.count(b"Hi Erin") == 1  # the contact's name, data's order
    assert b"A-17" in sink.sink.accepted[0].data
    with Session(engine) as session:
        [content] = session.execute(select(MessageContent)).scalars().all()
    assert (content.subject, content.text) == ("", "")
    assert again.status_code == 422 and "erased" in again.json()["errors"][0]["msg"]
    assert again.json()["errors"][0]["field"] == "to"


def test_a_4xx_defers_the_message_and_the_workers_send_it_on_the_retry_schedule(
    settings: Settings, engine: Engine, sink: SinkServer
) -> None:
    s = relay_settings(settings, sink.port)
    sink.sink.rcpt_script["slow@sink.test"] = ["450 4.2.0 greylisted, try later"]
    with _client(s, engine) as client:
        first = client.post("/api/v1/messages", json={"to": "slow@sink.test", "subject": "s", "text": "t"}).json()
    assert (first["state"], first["last_reply_code"], first["attempts"]) == ("deferred", 450, 1)
    assert first["next_attempt_at"] is not None  # the campaigns' schedule: 15 minutes after the first attempt
    with Session(engine) as session:  # those 15 minutes pass
        row = session.get(Delivery, first["id"])
        assert row is not None
        row.next_attempt_at = utcnow()
        session.commit()
    run_worker_until(s, engine, lambda: sink.sink.counts()["slow@sink.test"] == 1)
    with _client(s, engine) as client:
        read = client.get(f"/api/v1/messages/{first['id']}").json()
    assert (read["state"], read["attempts"]) == ("sent", 2)


def test_the_workers_begin_no_transaction_while_a_transactional_request_runs(engine, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """SQLite: a request's writes go ahead of a campaign's batch transactions; a stream of requests that never ends
    slows the workers but does not stop them. PostgreSQL: the workers never wait."""
    monkeypatch.setattr(db, "PRIORITY_YIELD_MAX_SECONDS", 60.0)
    begun = threading.Event()
    worker = threading.Thread(target=lambda: (db.yield_to_priority(engine), begun.set()))
    with db.priority_writes(engine):
        worker.start()
        held_back = not begun.wait(0.5)
    worker.join(10)
    assert begun.is_set()
    assert held_back == db.is_sqlite(engine)
    monkeypatch.setattr(db, "PRIORITY_YIELD_MAX_SECONDS", 0.05)
    with db.priority_writes(engine):
        db.yield_to_priority(engine)  # returns: the wait is bounded

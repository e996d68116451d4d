"""A welcome series through real servers: a subscribe through the hosted form, confirmed by its link, starts three
messages that arrive in a Dovecot mailbox in order through the Postfix relay; an unsubscribe after the first stops
the rest."""

import email
import email.policy
import re

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from app.automations.advance import sweep
from app.main import create_app
from app.settings import Settings
from app.subscription.mail import send_due
from tests.automations.support import ledger_rows, position, time_passes, welcome_series
from tests.sending.conftest import run_worker_until
from tests.subscription.support import job_ran, signup_list

pytestmark = pytest.mark.mailstack

NOREPLY = "noreply@example.test"


def _relay(settings: Settings, mail) -> Settings:  # type: ignore[no-untyped-def]
    return settings.model_copy(update={
        "smtp_host": mail.host, "smtp_port": mail.submission_port, "smtp_security": "starttls",
        "smtp_cafile": mail.cafile, "smtp_username": NOREPLY, "smtp_password": SecretStr(mail.users[NOREPLY]),
        "smtp_timeout": 10.0, "bounce_address": NOREPLY, "worker_poll_seconds": 0.05,
    })  # fmt: skip


def _message(raw: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)  # type: ignore[return-value]


def _subscribe(client: TestClient, engine, s: Settings, mail, list_id: int, address: str, seen: int) -> None:  # type: ignore[no-untyped-def]
    """Sign up on the hosted form and follow the confirmation link that arrives."""
    assert client.post(f"/s/{list_id}", data={"email": address, "first_name": address[:3].title()}).status_code == 200
    job_ran(engine)
    send_due(engine, s)
    raw = mail.wait_for_messages(address, seen + 1, timeout=15)[-1]
    link = re.search(r"http://testserver(/s/confirm/\S+)", _message(raw).get_body(("plain",)).get_content())
    assert link
    assert client.post(link.group(1)).status_code == 200


def _sent(s: Settings, engine, address: str, count: int) -> None:  # type: ignore[no-untyped-def]
    """Run the sending worker until the address's ledger rows so far have gone out."""
    run_worker_until(s, engine, lambda: [r.state for r in ledger_rows(engine, address)] == ["sent"] * count)


def test_a_confirmed_signup_gets_the_series_in_order_and_an_unsubscribe_stops_it(mail, settings, engine) -> None:  # type: ignore[no-untyped-def]
    s = _relay(settings, mail)
    list_id = signup_list(engine, "Weekly")
    welcome_series(engine, s, trigger="optin_confirmed", list_id=list_id)
    alice, bob = "alice@example.test", "bob@example.test"
    with TestClient(create_app(s)) as client:
        _subscribe(client, engine, s, mail, list_id, alice, 0)
        _subscribe(client, engine, s, mail, list_id, bob, 0)
        assert sweep(engine).entered == 2  # both enter and get the first step
        _sent(s, engine, alice, 1)
        _sent(s, engine, bob, 1)
        first = _message(mail.wait_for_messages(bob, 2, timeout=15)[-1])
        assert first["Subject"] == "Welcome, Bob"
        one_click = re.search(r"<http://testserver(/u/[^>]+)>", first["List-Unsubscribe"])
        assert one_click
        assert client.post(one_click.group(1), data={"List-Unsubscribe": "One-Click"}).status_code == 200

        assert sweep(engine).advanced == 0  # the first wait is not over
        for count in (2, 3):
            time_passes(engine)
            sweep(engine)
            _sent(s, engine, alice, count)
    got = [_message(raw) for raw in mail.wait_for_messages(alice, 4, timeout=15)[1:]]
    assert [m["Subject"] for m in got] == ["Welcome, Ali", "Getting started", "Our best tips"]
    assert "One for Ali" in got[0].get_body(("plain",)).get_content()
    assert position(engine, alice).state == "done"
    assert len(ledger_rows(engine, bob)) == 1  # nothing after the unsubscribe
    left = position(engine, bob)
    assert left.state == "exited" and left.exit_reason == "suppressed: unsubscribed"
    assert len(mail.wait_for_messages(bob, 2, timeout=5)) == 2  # the confirmation and the first only

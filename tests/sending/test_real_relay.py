"""Through the real Postfix relay (AUTH over STARTTLS on the submission port) into Dovecot mailboxes."""

import email
import email.policy

import pytest
from pydantic import SecretStr
from sqlmodel import Session

from app.models import Campaign, utcnow
from app.sending import campaigns as service
from app.sending.relay import test_connection as check_relay
from tests.conftest import make_api_key
from tests.sending.conftest import campaign_state, make_campaign, make_list, run_worker_until

pytestmark = pytest.mark.mailstack

NOREPLY = "noreply@example.test"
PEOPLE = [("alice@example.test", "Alice", {"city": "Oslo"}), ("bob@example.test", "Bob", {"city": "Rome"}),
          ("carol@example.test", "Carol", {"city": "Lima"})]  # fmt: skip


def _relay(settings, mail, password: str | None = None):  # type: ignore[no-untyped-def]
    return settings.model_copy(update={
        "smtp_host": mail.host, "smtp_port": mail.submission_port, "smtp_security": "starttls",
        "smtp_cafile": mail.cafile, "smtp_username": NOREPLY,
        "smtp_password": SecretStr(password if password is not None else mail.users[NOREPLY]),
        "worker_poll_seconds": 0.05, "smtp_timeout": 10.0,
    })  # fmt: skip


def _launch(session: Session, settings) -> Campaign:  # type: ignore[no-untyped-def]
    lst = make_list(session, "team", PEOPLE)
    campaign = make_campaign(session, [lst.id], from_address=NOREPLY, from_name="Bülk Mail")
    service.launch(session, campaign, settings, utcnow())
    session.commit()
    return campaign


def test_campaign_arrives_in_each_mailbox_personalised_with_the_right_headers(mail, settings, engine, session):
    s = _relay(settings, mail)
    campaign = _launch(session, s)
    run_worker_until(s, engine, lambda: campaign_state(engine, campaign.id) == "completed")
    for address, first, attrs in PEOPLE:
        [raw] = mail.wait_for_messages(address, 1, timeout=15)
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        assert msg["Subject"] == f"Hi {first}"
        assert msg["To"].addresses[0].addr_spec == address
        assert msg["From"].addresses[0].display_name == "Bülk Mail"
        assert msg["Return-Path"].startswith("<noreply+d") and msg["Return-Path"].endswith("@example.test>")
        assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert msg["List-Unsubscribe"].startswith("<http://testserver/u/u")
        assert msg["Precedence"] == "bulk"
        assert msg["X-Bulkmail-Campaign"] == str(campaign.id) and msg["X-Bulkmail-Delivery"]
        assert f"Hello {first} from {attrs['city']}" in msg.get_body(("plain",)).get_content()
        assert f"<p>Hello {first} from {attrs['city']}</p>" in msg.get_body(("html",)).get_content()


def test_wrong_password_pauses_the_campaign_with_the_535_reason(mail, settings, engine, session):
    s = _relay(settings, mail, password="not-the-password")
    campaign = _launch(session, s)
    run_worker_until(s, engine, lambda: campaign_state(engine, campaign.id) == "paused")
    with Session(engine) as sess:
        reason = sess.get(Campaign, campaign.id).paused_reason
    assert "535" in reason and "not-the-password" not in reason
    assert mail.messages("alice@example.test") == []


def test_relay_check_against_the_real_relay(mail, settings):
    good = check_relay(_relay(settings, mail), NOREPLY, "alice@example.test")
    assert good.ok, good.message
    bad = check_relay(_relay(settings, mail, password="nope"), NOREPLY, "alice@example.test")
    assert bad.kind == "auth" and "535" in bad.message
    unauth = _relay(settings, mail).model_copy(update={"smtp_username": None, "smtp_password": None})
    denied = check_relay(unauth, NOREPLY, "someone@elsewhere.test")
    assert not denied.ok and denied.kind == "relay", denied.message


def test_test_send_goes_through_the_relay_outside_the_ledger(mail, settings, engine, session):
    from fastapi.testclient import TestClient

    from app.main import create_app

    s = _relay(settings, mail)
    lst = make_list(session, "team", PEOPLE)
    campaign = make_campaign(session, [lst.id], from_address=NOREPLY)
    with TestClient(create_app(s)) as client:
        client.headers["Authorization"] = f"Bearer {make_api_key(engine)}"
        resp = client.post(f"/api/v1/campaigns/{campaign.id}/test", json={"to": ["dave@example.test"]})
        assert resp.status_code == 200 and resp.json()[0]["ok"], resp.text
        progress = client.get(f"/api/v1/campaigns/{campaign.id}/progress").json()
    assert progress["total"] == 0
    [raw] = mail.wait_for_messages("dave@example.test", 1, timeout=15)
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert msg["Subject"] == "Hi Alice"  # rendered for the first contact of the list
    assert msg["List-Unsubscribe"].startswith("<http://testserver/u/c")

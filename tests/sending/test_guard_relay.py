"""The deliverability guard on the real path: a campaign sent through the real Postfix relay, whose
unknown recipients come back as DSNs (Postfix accepts them at RCPT and bounces them afterwards), swept
from the real Dovecot mailbox; the sweep's hard bounces put it past 10 % after 500 messages and it
pauses itself, tells the webhook receiver, and sends nothing more."""

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine, func, select
from sqlmodel import Session

from app.bounces.sweep import run_sweep
from app.models import Bounce, Campaign, Delivery, utcnow
from app.sending import campaigns as service
from app.settings import Settings
from app.webhooks.dispatch import dispatch_due
from tests.bounces.support import NOREPLY, mailbox_settings
from tests.sending.conftest import campaign_state, make_campaign, make_list, run_worker_until, worker_running
from tests.support.mailstack import MailStack
from tests.support.polling import wait_for
from tests.support.receiver import Receiver

pytestmark = pytest.mark.mailstack

USERS = ("alice", "bob", "carol", "dave")
PER_USER, GHOSTS_PER_USER = 128, 22  # 600 recipients, 88 of them (14.7 %) unknown users
API = "/api/v1"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"webhook_allowed_networks": ["127.0.0.1/32"]})


def _audience() -> list[tuple[str, str, dict]]:
    """In address order (the ledger's order) each real user's 128 addresses (user+N, delivered to that
    user's mailbox) come before 22 unknown users (userN), so every 500 in a row hold more than 10 %."""
    people = []
    for user in USERS:
        people += [(f"{user}+{i:03d}@example.test", user, {"city": "Oslo"}) for i in range(PER_USER)]
        people += [(f"{user}{i:03d}@example.test", user, {"city": "Oslo"}) for i in range(GHOSTS_PER_USER)]
    return people


def _relay(settings: Settings, mail: MailStack) -> Settings:
    return settings.model_copy(update={
        "smtp_host": mail.host, "smtp_port": mail.submission_port, "smtp_security": "starttls",
        "smtp_cafile": mail.cafile, "smtp_username": NOREPLY, "smtp_password": SecretStr(mail.users[NOREPLY]),
        "worker_poll_seconds": 0.05, "smtp_timeout": 10.0, "worker_batch": 25, "smtp_rate": 100.0,
    })  # fmt: skip


def _out(engine: Engine, campaign_id: int) -> int:
    with Session(engine) as s:
        return s.execute(
            select(func.count()).where(Delivery.campaign_id == campaign_id, Delivery.state.in_(("sent", "bounced")))
        ).scalar_one()


def test_a_campaign_past_10_percent_hard_bounces_after_500_sends_pauses_itself_with_the_reason(
    mail: MailStack, settings: Settings, engine: Engine, session: Session, client: TestClient, receiver: Receiver
) -> None:
    r = client.post(f"{API}/webhooks", json={"url": receiver.url, "events": ["campaign.paused"]})
    assert r.status_code == 201, r.text
    s = mailbox_settings(_relay(settings, mail), mail)
    people = _audience()
    lst = make_list(session, "everyone", people)
    campaign = make_campaign(session, [lst.id], from_address=NOREPLY)
    service.launch(session, campaign, s, utcnow())
    session.commit()
    campaign_id = campaign.id
    session.rollback()  # hold no transaction (on SQLite: the write lock) while the worker runs

    # the worker sends until 500 are out; every unknown recipient was accepted by the relay, so the
    # guard has nothing to count yet and the campaign keeps sending
    with worker_running(s, engine):
        wait_for(lambda: _out(engine, campaign_id) >= 500, timeout=120, what="500 messages out", interval=0.02)
    out = _out(engine, campaign_id)
    with Session(engine) as check:
        ghosts = check.execute(
            select(func.count()).where(
                Delivery.campaign_id == campaign_id, Delivery.state == "sent", Delivery.email.not_like("%+%")
            )
        ).scalar_one()
        assert check.get(Campaign, campaign_id).state == "sending"  # type: ignore[union-attr]
    assert 500 <= out < len(people) and ghosts > out // 10

    # Postfix bounces them into noreply's mailbox, one DSN each; the sweep records them and the guard acts
    mail.wait_for_messages(NOREPLY, ghosts, timeout=60)
    sweep = run_sweep(s, engine, trigger="cli")
    assert sweep is not None and sweep.state == "done", sweep and sweep.error
    with Session(engine) as check:
        hard = check.execute(
            select(func.count()).where(Bounce.campaign_id == campaign_id, Bounce.hard, Bounce.source == "sweep")
        ).scalar_one()
        paused = check.get(Campaign, campaign_id)
    assert hard == ghosts
    percent = round(100 * ghosts / out, 2)
    assert paused is not None and paused.state == "paused"
    assert paused.paused_reason == (
        f"paused by the deliverability guard: hard bounces reached {percent:g} % of {out} messages in the last "
        f"24 hours ({ghosts}), at or past the pause threshold of 10 %"
    )
    shown = client.get(f"{API}/campaigns/{campaign_id}").json()
    assert shown["state"] == "paused" and shown["paused_reason"] == paused.paused_reason
    assert shown["guard_pause"]["metric"] == "hard_bounces" and shown["guard_pause"]["out"] == out
    rates = client.get(f"{API}/campaigns/{campaign_id}/deliverability").json()
    assert rates["windows"]["24h"]["hard_bounce_level"] == "pause" and rates["windows"]["24h"]["out"] == out
    assert rates["windows"]["7d"]["hard_bounce_percent"] == percent and rates["thresholds"]["min_messages"] == 500
    assert rates["unsubscribes"] == {"unsubscribes": 0, "mailed_after": 0, "violations": 0, "longest_seconds": 0.0}

    # the receiver hears of it, with the rates
    dispatch_due(s, engine)
    [event] = [e.json for e in receiver.wait_for(1)]
    assert event["type"] == "campaign.paused"
    assert event["data"]["campaign_id"] == campaign_id and event["data"]["cause"] == "guard"
    assert event["data"]["guard"]["rates"]["24h"] == {"out": out, "hard_bounces": ghosts, "complaints": 0}

    # the worker goes on with other campaigns and sends this one nothing more; resuming is refused
    # while the rate stands
    other = make_campaign(session, [make_list(session, "one", [("alice@example.test", "Alice", {"city": "Rome"})]).id],
                          from_address=NOREPLY, name="Other news")  # fmt: skip
    service.launch(session, other, s, utcnow())
    session.commit()
    other_id = other.id
    session.rollback()  # hold no transaction (on SQLite: the write lock) while the worker runs
    run_worker_until(s, engine, lambda: campaign_state(engine, other_id) == "completed")
    assert _out(engine, campaign_id) == out < len(people)
    r = client.post(f"{API}/campaigns/{campaign_id}/resume")
    assert r.status_code == 409 and "resume with the override" in r.json()["detail"]

"""The relay goes away mid-campaign: the real Postfix stopped, or a relay that accepts connections and
never greets (what Postfix does at its process limit). The campaign stays `sending`, the page and the
API say "relay unreachable since …, next try at …", and it completes by itself when the relay is back,
each recipient once."""

import email
import email.policy
import time
from collections import Counter

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine, func, select
from sqlmodel import Session

from app.models import Campaign, Delivery, utcnow
from app.sending import campaigns as service
from app.sending.relay import test_connection as check_relay
from app.settings import Settings
from tests.conftest import make_api_key
from tests.sending.conftest import (
    campaign_state,
    make_campaign,
    make_list,
    relay_settings,
    run_worker_until,
    worker_running,
)
from tests.sending.sink import MuteRelay, Sink, SinkServer
from tests.support.mailstack import MailStack
from tests.support.network import free_port
from tests.support.polling import wait_for
from tests.web.conftest import make_user, sign_in

NOREPLY = "noreply@example.test"
# short waits between tries, so an outage of seconds is retried several times
FAST_BACKOFF = {"relay_backoff_seconds": 0.3, "relay_backoff_max_seconds": 1.0}


def _launch(session: Session, settings: Settings, people: list[tuple[str, str, dict]]) -> int:
    lst = make_list(session, "everyone", people)
    campaign = make_campaign(session, [lst.id], from_address=NOREPLY, html_template="<p>Hi {{ first_name }}</p>",
                             text_template="Hi {{ first_name }}")  # fmt: skip
    service.launch(session, campaign, settings, utcnow())
    session.commit()
    return campaign.id  # type: ignore[return-value]


def _outage_shown(client: TestClient, key: str, campaign_id: int) -> dict:  # type: ignore[type-arg]
    """The campaign JSON once it says the relay is unreachable (the page checked beside it)."""
    data = client.get(f"/api/v1/campaigns/{campaign_id}", headers={"Authorization": f"Bearer {key}"}).json()
    if not data.get("relay_unreachable_since"):
        return {}
    data["page"] = client.get(f"/campaigns/{campaign_id}").text
    return data


def _assert_outage_shown(shown: dict, problem: str) -> None:  # type: ignore[type-arg]
    assert shown["state"] == "sending" and shown["paused_reason"] is None
    assert shown["relay_next_try_at"] and shown["relay_next_try_at"] >= shown["relay_unreachable_since"]
    assert problem in shown["relay_problem"] and "mode right" not in shown["relay_problem"], shown["relay_problem"]
    assert "Relay unreachable since" in shown["page"] and "next try at" in shown["page"]


def _sent(engine: Engine, campaign_id: int) -> int:
    with Session(engine) as s:
        return s.execute(
            select(func.count()).where(Delivery.campaign_id == campaign_id, Delivery.state == "sent")
        ).scalar_one()


def _final(engine: Engine, campaign_id: int) -> Campaign:
    with Session(engine) as s:
        campaign = s.get(Campaign, campaign_id)
        assert campaign is not None
        return campaign


def test_a_relay_that_accepts_but_never_greets_is_retried_not_misreported_and_the_campaign_completes(
    settings: Settings, engine: Engine, session: Session, anon_client: TestClient
) -> None:
    port = free_port()
    # small batches: many claims fall into the outage (the old worker paused after five in a row)
    s = relay_settings(settings, port, smtp_timeout=1.0, worker_batch=2, **FAST_BACKOFF)
    people = [(f"p{i}@x.test", f"P{i}", {}) for i in range(20)]
    campaign_id = _launch(session, s, people)
    key = make_api_key(engine)
    make_user(engine)
    assert sign_in(anon_client).status_code == 303
    sink = Sink()
    with worker_running(s, engine):
        with MuteRelay(port):
            shown = wait_for(lambda: _outage_shown(anon_client, key, campaign_id), 20, "the outage to be shown")
            _assert_outage_shown(shown, "sent no greeting")
            check = check_relay(s, NOREPLY, "p0@x.test")  # the settings page's "Test connection" says the same
            assert check.kind == "connect" and "sent no greeting" in check.message and "mode" not in check.message
        with SinkServer(sink, port=port):  # the relay has a free process again
            wait_for(lambda: campaign_state(engine, campaign_id) in ("completed", "paused"), 30, "the campaign to end")
    final = _final(engine, campaign_id)
    assert (final.state, final.paused_reason, final.relay_unreachable_since) == ("completed", None, None)
    assert sink.counts() == Counter({address: 1 for address, _, _ in people})


@pytest.mark.mailstack
def test_postfix_stopped_mid_campaign_the_campaign_completes_unattended_each_recipient_once(
    settings: Settings, engine: Engine, session: Session, anon_client: TestClient, mail: MailStack
) -> None:
    n, outage = 150, 15.0
    s = settings.model_copy(update={
        "smtp_host": mail.host, "smtp_port": mail.submission_port, "smtp_security": "starttls",
        "smtp_cafile": mail.cafile, "smtp_username": NOREPLY, "smtp_password": SecretStr(mail.users[NOREPLY]),
        "smtp_timeout": 5.0, "smtp_rate": 30.0, "smtp_connections": 2, "worker_batch": 20,
        "worker_poll_seconds": 0.05, **FAST_BACKOFF,
    })  # fmt: skip
    # alice+rN: Postfix's recipient delimiter files every one in alice's Maildir, one file per message
    people = [(f"alice+r{i}@example.test", f"R{i}", {}) for i in range(n)]
    campaign_id = _launch(session, s, people)
    key = make_api_key(engine)
    make_user(engine)
    assert sign_in(anon_client).status_code == 303
    with worker_running(s, engine):
        wait_for(lambda: _sent(engine, campaign_id) >= 30, 30, "the first messages to go out")
        mail.stop_postfix()
        try:
            shown = wait_for(lambda: _outage_shown(anon_client, key, campaign_id), 10, "the outage to be shown")
            _assert_outage_shown(shown, "refused")
            time.sleep(outage)  # several tries fail meanwhile
            assert campaign_state(engine, campaign_id) == "sending"  # not paused by the outage
            sent_during_outage = _sent(engine, campaign_id)
        finally:
            mail.start_postfix()
        wait_for(lambda: campaign_state(engine, campaign_id) in ("completed", "paused"), 60, "the campaign to end")
    final = _final(engine, campaign_id)
    assert (final.state, final.paused_reason, final.relay_unreachable_since) == ("completed", None, None)
    assert sent_during_outage < n
    mail.wait_for_messages("alice@example.test", n, timeout=30)
    mail.wait_queue_empty(timeout=30)  # a second copy, if any, has landed too
    messages = mail.messages("alice@example.test")
    got = Counter(
        email.message_from_bytes(m, policy=email.policy.default)["To"].addresses[0].addr_spec for m in messages
    )
    assert set(got) == {address for address, _, _ in people}  # nobody lost
    assert {a: c for a, c in got.items() if c > 1} == {}  # nobody twice


def test_a_relay_unreachable_past_the_retry_window_pauses_the_campaign_with_the_reason(
    settings: Settings, engine: Engine, session: Session
) -> None:
    # a retry window of 0 minutes: the first failed try is already past it
    s = relay_settings(settings, free_port(), retry_minutes=[0], **FAST_BACKOFF)
    campaign_id = _launch(session, s, [("p0@x.test", "P0", {})])
    run_worker_until(s, engine, lambda: campaign_state(engine, campaign_id) == "paused", timeout=20)
    final = _final(engine, campaign_id)
    assert "unreachable since" in final.paused_reason and "longer than the retry window" in final.paused_reason
    assert "refused" in final.paused_reason and final.relay_unreachable_since is None

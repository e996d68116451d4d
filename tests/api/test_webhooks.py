"""Webhooks out: signed POSTs to a local receiver, retried while it is down, kept across a restart."""

import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from app.db import make_engine
from app.models import Contact, WebhookDelivery
from app.secret_key import get_secret_key
from app.settings import Settings
from app.tokens import make_token
from app.webhooks.dispatch import dispatch_due
from app.webhooks.signing import verify
from tests.api.receiver import Receiver

API = "/api/v1"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    if r._server is not None:
        r.stop()


@pytest.fixture
def fast(settings: Settings) -> Settings:
    """Retries a fraction of a second apart instead of 30 s."""
    return settings.model_copy(update={"webhook_retry_base_seconds": 0.2, "webhook_timeout_seconds": 2.0})


def _register(client: TestClient, url: str, events: list[str]) -> dict:
    r = client.post(f"{API}/webhooks", json={"url": url, "events": events})
    assert r.status_code == 201, r.text
    return r.json()


def _unsubscribe_over_api(client: TestClient, email: str) -> None:
    r = client.post(f"{API}/suppressions", json={"email": email, "reason": "unsubscribed"})
    assert r.status_code == 201, r.text


def test_event_is_posted_signed_and_logged(client: TestClient, fast: Settings, engine: Engine, receiver: Receiver):
    hook = _register(client, receiver.url, ["unsubscribe"])
    assert hook["secret"].startswith("whsec_") and "secret" not in client.get(f"{API}/webhooks/{hook['id']}").json()
    _register(client, receiver.url + "/bounces-only", ["bounce"])  # not subscribed: gets nothing
    _unsubscribe_over_api(client, "Ann@Example.com")

    assert dispatch_due(fast, engine) == 1
    [got] = receiver.wait_for(1)
    assert verify(hook["secret"], got.headers["x-bulkmail-signature"], got.body, int(time.time()))
    assert not verify("whsec_wrong", got.headers["x-bulkmail-signature"], got.body, int(time.time()))
    assert got.headers["x-bulkmail-event"] == "unsubscribe"
    assert got.json["type"] == "unsubscribe" and got.json["data"]["email"] == "Ann@example.com"
    assert got.headers["x-bulkmail-event-id"] == str(got.json["id"])
    assert got.json["created_at"].endswith(("Z", "+00:00"))

    [delivery] = client.get(f"{API}/webhook-deliveries", params={"state": "delivered"}).json()["items"]
    detail = client.get(f"{API}/webhook-deliveries/{delivery['id']}").json()
    assert detail["attempts"] == 1 and detail["attempt_log"][0]["status_code"] == 200
    assert detail["event"]["data"]["email"] == "Ann@example.com"


def test_one_click_unsubscribe_is_a_webhook_event(client, fast, engine, session, receiver):
    _register(client, receiver.url, ["unsubscribe"])
    contact = Contact(email="bob@example.com", email_key="bob@example.com")
    session.add(contact)
    session.commit()
    token = make_token(get_secret_key(fast, engine), "c", contact.id)
    r = client.post(f"/u/{token}", data={"List-Unsubscribe": "One-Click"})
    assert r.status_code == 200
    dispatch_due(fast, engine)
    [got] = receiver.wait_for(1)
    assert got.json["data"]["source"] == "one-click" and got.json["data"]["email"] == "bob@example.com"


def test_receiver_down_then_back_after_a_restart_still_gets_the_event(client, fast, engine, receiver):
    hook = _register(client, receiver.url, ["unsubscribe"])
    receiver.stop()
    _unsubscribe_over_api(client, "carol@example.com")

    dispatch_due(fast, engine)  # connection refused: logged, retried later
    [failing] = client.get(f"{API}/webhook-deliveries").json()["items"]
    assert failing["state"] == "pending" and failing["attempts"] == 1 and "ConnectError" in failing["last_error"]

    # "restart": a new engine, as a new bulkmail process would have; the receiver comes back
    engine.dispose()
    restarted = make_engine(fast.database_url)
    receiver.start()
    deadline = time.monotonic() + 10
    while not receiver.received and time.monotonic() < deadline:
        dispatch_due(fast, restarted)
        time.sleep(0.1)
    restarted.dispose()
    [got] = receiver.received
    assert verify(hook["secret"], got.headers["x-bulkmail-signature"], got.body, int(time.time()))
    detail = client.get(f"{API}/webhook-deliveries/{failing['id']}").json()
    assert detail["state"] == "delivered" and detail["attempts"] >= 2
    assert detail["attempt_log"][0]["status_code"] is None and detail["attempt_log"][-1]["status_code"] == 200


def test_gives_up_after_the_retry_window_and_a_replay_sends_it_again(client, fast, engine, receiver):
    _register(client, receiver.url, ["unsubscribe"])
    receiver.status = 500
    _unsubscribe_over_api(client, "dave@example.com")
    brief = fast.model_copy(update={"webhook_retry_hours": 0.5 / 3600})  # half a second
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        dispatch_due(brief, engine)
        [d] = client.get(f"{API}/webhook-deliveries").json()["items"]
        if d["state"] == "failed":
            break
        time.sleep(0.1)
    assert d["state"] == "failed" and d["last_status_code"] == 500 and d["attempts"] >= 2
    assert client.get(f"{API}/webhook-deliveries", params={"state": "failed"}).json()["items"][0]["id"] == d["id"]

    receiver.status = 204
    replayed = client.post(f"{API}/webhook-deliveries/{d['id']}/replay")
    assert replayed.status_code == 200 and replayed.json()["state"] == "pending"
    dispatch_due(brief, engine)
    detail = client.get(f"{API}/webhook-deliveries/{d['id']}").json()
    assert detail["state"] == "delivered" and detail["attempt_log"][-1]["status_code"] == 204
    assert len({r.json["id"] for r in receiver.received}) == 1  # the same event each time


def test_events_are_stored_with_the_fact_and_rolled_back_with_it(fast, engine, receiver, client):
    _register(client, receiver.url, ["unsubscribe"])
    from app.webhooks.events import emit_unsubscribe

    with Session(engine) as s:
        emit_unsubscribe(s, "eve@example.com", "api")
        s.rollback()
    with Session(engine) as s:
        assert s.query(WebhookDelivery).count() == 0


def test_webhook_urls_must_be_http(client: TestClient) -> None:
    for bad in ("ftp://127.0.0.1/x", "127.0.0.1/hooks", "http:///nohost"):
        r = client.post(f"{API}/webhooks", json={"url": bad, "events": ["bounce"]})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "url", bad
    r = client.post(f"{API}/webhooks", json={"url": "http://127.0.0.1/x", "events": ["nope"]})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "events.0"


def test_a_rejection_at_send_time_is_a_bounce_event_and_completion_follows(client, settings, engine, session, receiver):
    from app.models import utcnow
    from app.sending import campaigns as service
    from tests.sending.conftest import campaign_state, make_campaign, make_list, relay_settings, run_worker_until
    from tests.sending.sink import Sink, SinkServer

    _register(client, receiver.url, ["bounce", "campaign.completed"])
    with SinkServer(Sink()) as sink:
        sink.sink.rcpt_script["bob@x.test"] = ["550 5.1.1 <bob@x.test>: Recipient address rejected"]
        s = relay_settings(settings, sink.port)
        lst = make_list(session, "l", [("ann@x.test", "Ann", {"city": "Oslo"}), ("bob@x.test", "Bob", {"city": "Rome"})])
        campaign = make_campaign(session, [lst.id])
        service.launch(session, campaign, s, utcnow())
        session.commit()
        run_worker_until(s, engine, lambda: campaign_state(engine, campaign.id) == "completed")
    dispatch_due(s, engine)
    got = {r.json["type"]: r.json["data"] for r in receiver.wait_for(2)}
    assert got["bounce"]["email"] == "bob@x.test" and got["bounce"]["source"] == "smtp" and got["bounce"]["hard"]
    assert got["campaign.completed"]["campaign_id"] == campaign.id

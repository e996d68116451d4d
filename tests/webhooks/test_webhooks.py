"""Webhooks out: signed POSTs to a local receiver, retried while it is down, kept across a restart; targets
that are not public addresses refused unless allow-listed (the receiver's 127.0.0.1 is, as an on-premises
CMS would be)."""

import ssl
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import Engine
from sqlmodel import Session

from app.db import make_engine
from app.main import create_app
from app.metrics import counters
from app.metrics.counters import WEBHOOK_FAILURES
from app.models import Contact, WebhookDelivery
from app.secret_key import get_secret_key
from app.settings import Settings
from app.tokens import make_token
from app.webhooks.dispatch import dispatch_due
from app.webhooks.signing import verify
from tests.conftest import make_api_key
from tests.support.dns import fake_dns
from tests.support.network import free_port
from tests.support.receiver import Receiver

API = "/api/v1"
RECEIVER_ALLOWED = ["127.0.0.1/32"]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The service the tests' `client` talks to: the receiver's address allow-listed."""
    return settings.model_copy(update={"webhook_allowed_networks": RECEIVER_ALLOWED})


@pytest.fixture
def strict(settings: Settings) -> Settings:
    """The default: nothing allow-listed (retries fast, as in `fast`)."""
    return settings.model_copy(update={"webhook_allowed_networks": [], "webhook_retry_base_seconds": 0.2,
                                       "webhook_timeout_seconds": 2.0})  # fmt: skip


@pytest.fixture
def strict_client(strict: Settings, engine: Engine) -> Iterator[TestClient]:
    """A client of a service with the default settings: nothing allow-listed."""
    with TestClient(create_app(strict), headers={"Authorization": f"Bearer {make_api_key(engine)}"}) as c:
        yield c


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
    assert failing["state"] == "pending" and failing["attempts"] == 1
    # in words, the same whatever the OS said: no exception class, no errno
    assert failing["last_error"] == "could not connect to the receiver (connection refused or unreachable)"

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


def test_a_failed_delivery_logs_no_credentials_from_its_url(client, fast, engine, receiver, caplog):
    url = receiver.url.replace("://", "://cms-user:hunter2-secret@") + "?token=tok-secret"
    _register(client, url, ["unsubscribe"])
    receiver.stop()
    _unsubscribe_over_api(client, "erin@example.com")
    with caplog.at_level("DEBUG"):
        dispatch_due(fast, engine)
    assert "failed (attempt 1)" in caplog.text and "127.0.0.1" in caplog.text
    assert "hunter2-secret" not in caplog.text and "tok-secret" not in caplog.text


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
    with Session(engine) as session:  # what /metrics reports as bulkmail_webhook_delivery_failures_total
        failures = {pairs["outcome"]: v for name, pairs, v in counters.read(session) if name == WEBHOOK_FAILURES.name}
    assert (failures.get("retry", 0), failures["gave_up"]) == (d["attempts"] - 1, 1)
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


def test_a_deleted_webhook_is_gone_and_its_id_answers_404(client: TestClient) -> None:
    hook = _register(client, "http://127.0.0.1/hooks", ["bounce"])
    r = client.delete(f"{API}/webhooks/{hook['id']}")
    assert r.status_code == 204 and r.content == b""
    assert client.get(f"{API}/webhooks/{hook['id']}").status_code == 404
    assert client.delete(f"{API}/webhooks/{hook['id']}").status_code == 404


def test_a_rejection_at_send_time_is_a_bounce_event_and_completion_follows(client, settings, engine, session, receiver):
    from app.models import utcnow
    from app.sending import campaigns as service
    from tests.sending.conftest import campaign_state, make_campaign, make_list, relay_settings, run_worker_until
    from tests.sending.sink import Sink, SinkServer

    _register(client, receiver.url, ["bounce", "campaign.completed"])
    with SinkServer(Sink()) as sink:
        sink.sink.rcpt_script["bob@x.test"] = ["550 5.1.1 <bob@x.test>: Recipient address rejected"]
        s = relay_settings(settings, sink.port)
        lst = make_list(
            session, "l", [("ann@x.test", "Ann", {"city": "Oslo"}), ("bob@x.test", "Bob", {"city": "Rome"})]
        )
        campaign = make_campaign(session, [lst.id])
        service.launch(session, campaign, s, utcnow())
        session.commit()
        run_worker_until(s, engine, lambda: campaign_state(engine, campaign.id) == "completed")
    dispatch_due(s, engine)
    got = {r.json["type"]: r.json["data"] for r in receiver.wait_for(2)}
    assert got["bounce"]["email"] == "bob@x.test" and got["bounce"]["source"] == "smtp" and got["bounce"]["hard"]
    assert got["campaign.completed"]["campaign_id"] == campaign.id


# Targets that are not public addresses (SSRF)

NOT_PUBLIC = {
    "http://127.0.0.1:5432/": "127.0.0.1 is a loopback address",
    "http://169.254.169.254/latest/meta-data/": "169.254.169.254 is a link-local address",
    "http://[::1]:22/": "::1 is a loopback address",
    "http://10.0.0.1/": "10.0.0.1 is a private address",
    "http://0x7f000001/": "127.0.0.1 is a loopback address",
    "http://2130706433/": "127.0.0.1 is a loopback address",
    "http://127.1/": "127.0.0.1 is a loopback address",
    "http://172.16.5.4/": "172.16.5.4 is a private address",
    "http://192.168.0.10/": "192.168.0.10 is a private address",
    "http://100.64.0.1/": "100.64.0.1 is a shared (carrier-grade NAT) address",
    "http://[fc00::1]/": "fc00::1 is a private address",
    "http://[fe80::1]/": "fe80::1 is a link-local address",
    "http://224.0.0.1/": "224.0.0.1 is a multicast address",
    "http://0.0.0.0:8000/": "0.0.0.0 is an unspecified address",
    "http://[::]/": ":: is an unspecified address",
    "http://240.0.0.1/": "240.0.0.1 is a reserved address",
    "http://[::ffff:127.0.0.1]/": "::ffff:7f00:1 (127.0.0.1) is a loopback address",
    "http://localhost:8000/": "localhost resolves to 127.0.0.1, a loopback address",
    "https://cms.corp.test/hooks": "cms.corp.test resolves to 10.1.2.3, a private address",
}


def test_registration_refuses_urls_that_are_not_public_addresses(strict_client: TestClient) -> None:
    with fake_dns({"cms.corp.test": ["10.1.2.3"]}):
        for url, why in NOT_PUBLIC.items():
            r = strict_client.post(f"{API}/webhooks", json={"url": url, "events": ["bounce"]})
            assert r.status_code == 422, (url, r.text)
            [error] = r.json()["errors"]
            assert error["field"] == "url" and error["msg"].startswith(why), (url, error)
            assert "BULKMAIL_WEBHOOK_ALLOWED_NETWORKS" in error["msg"]
        r = strict_client.post(f"{API}/webhooks", json={"url": "http://nowhere.invalid/", "events": ["bounce"]})
        assert r.status_code == 422 and r.json()["errors"][0]["msg"] == "the host name nowhere.invalid does not resolve"

        public = _register(strict_client, "https://93.184.215.14/hooks", ["bounce"])  # stored, never contacted here
        r = strict_client.patch(f"{API}/webhooks/{public['id']}", json={"url": "http://[::1]:22/"})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "url"
    assert strict_client.get(f"{API}/webhooks/{public['id']}").json()["url"] == "https://93.184.215.14/hooks"
    assert [h["url"] for h in strict_client.get(f"{API}/webhooks").json()["items"]] == ["https://93.184.215.14/hooks"]


def test_a_target_no_longer_allowed_is_refused_at_delivery_without_a_connection(
    client: TestClient, strict: Settings, fast: Settings, engine: Engine, receiver: Receiver
) -> None:
    _register(client, receiver.url, ["unsubscribe"])  # allowed when registered
    _unsubscribe_over_api(client, "fay@example.com")

    dispatch_due(strict, engine)  # the allow-list no longer has it
    [d] = client.get(f"{API}/webhook-deliveries").json()["items"]
    assert d["state"] == "pending" and d["last_status_code"] is None
    assert d["last_error"].startswith("not sent: 127.0.0.1 is a loopback address;")
    assert receiver.wait_for(1, timeout=1.0) == []

    time.sleep(0.3)  # allowed again (the operator restores the setting): the retry delivers it, nothing lost
    dispatch_due(fast, engine)
    assert len(receiver.wait_for(1)) == 1
    assert client.get(f"{API}/webhook-deliveries/{d['id']}").json()["state"] == "delivered"


def test_dns_rebinding_to_loopback_is_refused_at_delivery(strict_client: TestClient, strict: Settings,
                                                          engine: Engine, receiver: Receiver) -> None:  # fmt: skip
    port = receiver.url.split(":")[2].split("/")[0]
    answers = {"cms.rebind.test": ["93.184.215.14"]}  # public when registered (nothing connects then)
    with fake_dns(answers):
        _register(strict_client, f"http://cms.rebind.test:{port}/hooks", ["unsubscribe"])
        _unsubscribe_over_api(strict_client, "gus@example.com")
        answers["cms.rebind.test"] = ["127.0.0.1"]  # ...and loopback, where the receiver listens, at delivery
        dispatch_due(strict, engine)
    [d] = strict_client.get(f"{API}/webhook-deliveries").json()["items"]
    assert d["last_error"].startswith("not sent: cms.rebind.test resolves to 127.0.0.1, a loopback address")
    assert receiver.wait_for(1, timeout=1.0) == []


def test_delivery_connects_to_the_address_it_checked(strict_client: TestClient, strict: Settings,
                                                     engine: Engine, receiver: Receiver) -> None:  # fmt: skip
    """A name that answers an allowed address for the check and a refused one a moment later: the one
    lookup's checked address is the one connected to (httpx does not look the name up again)."""
    port = receiver.url.split(":")[2].split("/")[0]
    elsewhere = Receiver(port=int(port), host="127.0.0.2")  # same port, refused address
    allowed = strict.model_copy(update={"webhook_allowed_networks": RECEIVER_ALLOWED})
    answers = {"cms.flip.test": ["127.0.0.1"]}
    try:
        with fake_dns(answers) as lookups:
            with TestClient(create_app(allowed), headers=strict_client.headers) as api:
                _register(api, f"http://cms.flip.test:{port}/hooks", ["unsubscribe"])
            _unsubscribe_over_api(strict_client, "hal@example.com")
            answers["cms.flip.test"] = ["127.0.0.1", "127.0.0.2"]  # a second lookup would land elsewhere
            before = lookups.get("cms.flip.test", 0)
            dispatch_due(allowed, engine)
        assert elsewhere.wait_for(1, timeout=1.0) == []
        [got] = receiver.wait_for(1)
        assert got.headers["host"] == f"cms.flip.test:{port}" and lookups["cms.flip.test"] == before + 1
    finally:
        elsewhere.stop()


def test_a_redirect_is_not_followed_and_its_reason_is_logged(client: TestClient, fast: Settings, engine: Engine,
                                                             receiver: Receiver) -> None:  # fmt: skip
    forbidden = Receiver(host="127.0.0.2")  # loopback, not allow-listed
    try:
        receiver.status, receiver.redirect_to = 307, forbidden.url
        _register(client, receiver.url, ["unsubscribe"])
        _unsubscribe_over_api(client, "ivy@example.com")
        dispatch_due(fast, engine)
        assert len(receiver.wait_for(1)) == 1 and forbidden.wait_for(1, timeout=1.0) == []
        [d] = client.get(f"{API}/webhook-deliveries").json()["items"]
        assert d["state"] == "pending" and d["last_status_code"] == 307
        assert d["last_error"] == (f"HTTP 307: the receiver redirects to {forbidden.url}; redirects are not followed,"
                                   " register the final URL")  # fmt: skip
    finally:
        forbidden.stop()


def test_a_refused_target_logs_the_same_reason_whether_its_port_is_open_or_closed(
    client: TestClient, strict: Settings, engine: Engine, receiver: Receiver
) -> None:
    _register(client, receiver.url, ["unsubscribe"])  # open
    _register(client, f"http://127.0.0.1:{free_port()}/hooks", ["unsubscribe"])  # closed
    _unsubscribe_over_api(client, "jo@example.com")

    assert dispatch_due(strict, engine) == 2
    deliveries = client.get(f"{API}/webhook-deliveries").json()["items"]
    reasons = {d["last_error"] for d in deliveries}
    assert len(deliveries) == 2 and len(reasons) == 1, reasons
    assert reasons.pop().startswith("not sent: 127.0.0.1 is a loopback address;")
    assert {d["last_status_code"] for d in deliveries} == {None}
    assert receiver.wait_for(1, timeout=1.0) == []


def test_https_goes_to_the_checked_address_with_the_host_name_as_sni(
    strict_client: TestClient, strict: Settings, engine: Engine, tmp_path: Path
) -> None:
    """An untrusted certificate (self-signed): the attempt fails in words, and the handshake, made with
    the checked address, asked for the URL's host name (SNI), not the IP."""
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", tmp_path / "key.pem", "-out", tmp_path / "cert.pem", "-days", "1",
                    "-subj", "/CN=cms.tls.test", "-addext", "subjectAltName=DNS:cms.tls.test"],
                   check=True, capture_output=True)  # fmt: skip
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    receiver = Receiver(tls=tls)
    port = receiver.url.split(":")[2].split("/")[0]
    allowed = strict.model_copy(update={"webhook_allowed_networks": RECEIVER_ALLOWED})
    try:
        with fake_dns({"cms.tls.test": ["127.0.0.1"]}):
            with TestClient(create_app(allowed), headers=strict_client.headers) as api:
                _register(api, f"https://cms.tls.test:{port}/hooks", ["unsubscribe"])
            _unsubscribe_over_api(strict_client, "kim@example.com")
            dispatch_due(allowed, engine)
        [d] = strict_client.get(f"{API}/webhook-deliveries").json()["items"]
        assert d["last_error"] == "the TLS handshake with the receiver failed (its certificate or TLS setup)"
        assert receiver.sni == ["cms.tls.test"] and receiver.received == []
    finally:
        receiver.stop()


def test_an_allow_listed_host_name_is_delivered_to_and_a_bad_entry_stops_the_start(
    strict: Settings, strict_client: TestClient, engine: Engine, receiver: Receiver
) -> None:
    port = receiver.url.split(":")[2].split("/")[0]
    onprem = strict.model_copy(update={"webhook_allowed_networks": ["CMS.onprem.test"]})
    with fake_dns({"cms.onprem.test": ["127.0.0.1"]}):
        with TestClient(create_app(onprem), headers=strict_client.headers) as api:
            _register(api, f"http://cms.onprem.test:{port}/hooks", ["unsubscribe"])
            _unsubscribe_over_api(api, "lea@example.com")
        dispatch_due(onprem, engine)
    [got] = receiver.wait_for(1)
    assert got.headers["host"] == f"cms.onprem.test:{port}" and got.json["data"]["email"] == "lea@example.com"

    with pytest.raises(ValidationError, match="'10.0.0.0/33' is neither a network"):
        Settings(_env_file=None, webhook_allowed_networks=["10.0.0.0/33"])

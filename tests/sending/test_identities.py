"""Sending identities and relays through the API, and campaigns of two brands going out through a real SMTP
server, each signed with its own DKIM key (d= its From domain), with List-Id, Feedback-ID and its headers."""

import email
import re

import dkim
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from app.models import Campaign, Relay, SendingIdentity, utcnow
from app.sending import campaigns as service
from tests.sending.conftest import make_list, relay_settings, run_worker_until
from tests.sending.sink import SinkServer


def _identity(client: TestClient, domain: str, **extra) -> dict:  # type: ignore[no-untyped-def,type-arg]
    r = client.post("/api/v1/identities", json={"name": domain, "from_domain": domain, **extra})
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def test_a_relay_keeps_its_password_to_itself(client: TestClient, engine: Engine) -> None:
    body = {"name": "main", "host": "127.0.0.1", "port": 2587, "username": "noreply@example.test",
            "password": "noreply-secret", "weight": 3}  # fmt: skip
    r = client.post("/api/v1/relays", json=body)
    assert r.status_code == 201, r.text
    relay = r.json()
    assert "noreply-secret" not in r.text and relay["has_password"] is True
    assert relay["state"] == "unknown" and relay["weight"] == 3 and relay["security"] == "starttls"
    with Session(engine) as session:
        stored = session.exec(select(Relay)).one()
        assert stored.password_sealed and "noreply-secret" not in stored.password_sealed
    assert client.post("/api/v1/relays", json=body).status_code == 409  # the name is taken
    r = client.patch(f"/api/v1/relays/{relay['id']}", json={"weight": 1, "password": ""})
    assert r.json()["weight"] == 1 and r.json()["has_password"] is False
    assert "noreply-secret" not in client.get("/api/v1/relays").text
    bad = client.post("/api/v1/relays", json={"name": "x", "host": "a b", "port": 70000})
    assert bad.status_code == 422 and {e["field"] for e in bad.json()["errors"]} == {"host", "port"}
    assert client.delete(f"/api/v1/relays/{relay['id']}").status_code == 204
    assert client.get(f"/api/v1/relays/{relay['id']}").status_code == 404


def test_an_identity_shows_the_record_to_publish_never_the_key(client: TestClient, engine: Engine) -> None:
    identity = _identity(client, "news.brand-a.test", dkim_selector="sel1")
    assert identity["dkim_record"]["name"] == "sel1._domainkey.news.brand-a.test"
    assert identity["dkim_record"]["value"] == f"v=DKIM1; k=rsa; p={identity['dkim_public_key']}"
    assert identity["bounce_address"] == "noreply@news.brand-a.test"
    assert "PRIVATE" not in client.get(f"/api/v1/identities/{identity['id']}").text
    with Session(engine) as session:
        assert "PRIVATE" not in session.exec(select(SendingIdentity)).one().dkim_private_key_sealed
    rotated = client.patch(f"/api/v1/identities/{identity['id']}", json={"new_dkim_key": True, "dkim_selector": "sel2"})
    assert rotated.json()["dkim_selector"] == "sel2"
    assert rotated.json()["dkim_public_key"] != identity["dkim_public_key"]


@pytest.mark.parametrize(
    ("headers", "why"),
    [
        ({"X-Evil": "a\r\nBcc: victim@example.test"}, "one line"),
        ({"From": "boss@example.test"}, "set by bulkmail"),
        ({"DKIM-Signature": "v=1"}, "set by bulkmail"),
        ({"List-Unsubscribe": "<mailto:x@y.z>"}, "set by bulkmail"),
        ({"Bad Name": "x"}, "not a header name"),
        ({"X-Colon:": "x"}, "not a header name"),
    ],
)
def test_custom_headers_cannot_inject_or_override(client: TestClient, headers: dict[str, str], why: str) -> None:
    r = client.post("/api/v1/identities", json={"name": "x", "from_domain": "x.test", "headers": headers})
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "headers" and why in r.json()["errors"][0]["msg"]
    r = client.post("/api/v1/campaigns", json={"name": "c", "from_address": "a@x.test", "subject": "s",
                                               "text_template": "t", "headers": headers})  # fmt: skip
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "headers"


def test_a_campaign_sends_from_its_identity_domain_only(client: TestClient) -> None:
    identity = _identity(client, "brand-a.test")
    body = {"name": "c", "from_address": "news@brand-b.test", "subject": "s", "text_template": "t",
            "identity_id": identity["id"]}  # fmt: skip
    r = client.post("/api/v1/campaigns", json=body)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "from_address"
    assert client.post("/api/v1/campaigns", json={**body, "from_address": "news@brand-a.test"}).status_code == 201
    assert client.delete(f"/api/v1/identities/{identity['id']}").status_code == 409  # a campaign names it
    r = client.post("/api/v1/campaigns", json={**body, "identity_id": None, "relay_ids": [12345]})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "relay_ids"


def _record_lookup(records: dict[str, str]):  # type: ignore[no-untyped-def]
    def lookup(name: bytes, timeout: int = 5) -> bytes | None:
        value = records.get(name.decode().rstrip("."))
        return value.encode() if value else None

    return lookup


def test_two_brands_go_out_signed_with_their_own_domain(
    client: TestClient, settings, engine: Engine, sink: SinkServer
) -> None:  # type: ignore[no-untyped-def]
    brands = {
        "brand-a.test": _identity(client, "brand-a.test", from_name="Brand A", reply_to="help@brand-a.test",
                                  headers={"X-Brand": "A"}),
        "brand-b.test": _identity(client, "brand-b.test", headers={"X-Brand": "B", "X-Mailer-Team": "growth"}),
    }  # fmt: skip
    records = {i["dkim_record"]["name"]: i["dkim_record"]["value"] for i in brands.values()}
    with Session(engine) as session:
        lst = make_list(session, "Weekly deals", [("ann@example.test", "Ann", {}), ("bob@example.test", "Bob", {})])
        list_id = lst.id
        ids = {}
        for domain, identity in brands.items():
            campaign = Campaign(name=domain, from_address=f"news@{domain}", subject="Hi", text_template="Hello\n",
                                list_ids=[list_id], identity_id=identity["id"], headers={"X-Brand": domain})  # fmt: skip
            session.add(campaign)
            session.commit()
            service.launch(session, campaign, settings, utcnow())
            session.commit()
            ids[domain] = campaign.id
    s = relay_settings(settings, sink.port)
    run_worker_until(s, engine, lambda: len(sink.sink.accepted) >= 4)
    assert len(sink.sink.accepted) == 4
    for accepted in sink.sink.accepted:
        msg = email.message_from_bytes(accepted.data)
        domain = msg["From"].rpartition("@")[2].rstrip(">")
        identity = brands[domain]
        assert dkim.verify(accepted.data, dnsfunc=_record_lookup(records)), domain
        signature = re.sub(r"\s+", "", msg["DKIM-Signature"])
        assert f"d={domain};" in signature and f"s={identity['dkim_selector']};" in signature
        assert "list-id" in signature.lower() and "feedback-id" in signature.lower()
        assert msg["List-Id"] == f'"Weekly deals" <list-{list_id}.{domain}>'
        assert msg["Feedback-ID"] == f"{ids[domain]}:{list_id}:{identity['id']}:bulkmail"
        assert msg["X-Brand"] == domain  # the campaign's header wins over its identity's
        assert accepted.mail_from.startswith("noreply+") and accepted.mail_from.endswith(f"@{domain}")
        assert msg["Message-ID"].endswith(f"@{domain}>")
    by_domain = {email.message_from_bytes(a.data)["From"].rpartition("@")[2].rstrip(">"): a for a in sink.sink.accepted}
    a, b = (email.message_from_bytes(by_domain[d].data) for d in ("brand-a.test", "brand-b.test"))
    assert a["From"] == "Brand A <news@brand-a.test>" and a["Reply-To"] == "help@brand-a.test"
    assert b["X-Mailer-Team"] == "growth" and b["Reply-To"] is None

"""An import and a CMS push are the organisation vouching for consent: a signup still waiting for its
confirmation in that list is confirmed, and the consent ledger says by which import or API key."""

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from app.audience.compile import compile_audience
from app.models import utcnow
from app.settings import Settings
from tests.subscription.support import contact_id, job_ran, ledger, membership, signup_list

API = "/api/v1"


def _signed_up(client: TestClient, engine: Engine, list_id: int, *addresses: str) -> None:
    for address in addresses:
        assert client.post(f"/s/{list_id}", data={"email": address}).status_code == 200
        job_ran(engine)
        assert membership(engine, list_id, address) == "unconfirmed"


def _included(engine: Engine, settings: Settings, list_id: int) -> int:
    with Session(engine) as s:
        return int(compile_audience(s, [list_id], settings, utcnow()).counts["included"])


def test_a_cms_push_confirms_a_waiting_signup_in_its_list_only(
    client: TestClient, engine: Engine, settings: Settings
) -> None:
    news, other = signup_list(engine, "News"), signup_list(engine, "Other")
    _signed_up(client, engine, news, "ann@example.com", "bob@example.com")
    _signed_up(client, engine, other, "ann@example.com")
    push = {"list_id": news, "contacts": [{"external_id": "u1", "email": "ann@example.com"}]}
    r = client.post(f"{API}/contacts/bulk", json=push)
    assert r.status_code == 200, r.text

    assert membership(engine, news, "ann@example.com") == "subscribed"
    assert membership(engine, other, "ann@example.com") == "unconfirmed"  # not pushed into that list
    assert membership(engine, news, "bob@example.com") == "unconfirmed"  # not pushed at all
    ann = contact_id(engine, "ann@example.com")
    assert ann is not None
    confirm = [e for e in ledger(engine, ann) if e.action == "confirm"]
    assert [(e.list_id, e.actor_kind, e.source) for e in confirm] == [(news, "api_key", "CMS push")]
    assert confirm[0].actor.startswith("API key")
    assert _included(engine, settings, news) == 1

    assert client.post(f"{API}/contacts/bulk", json=push).status_code == 200  # pushed again: nothing new
    assert len([e for e in ledger(engine, ann) if e.action == "confirm"]) == 1

    # a CMS user taking over the address of a waiting signup: the signup merges in and still waits elsewhere
    _signed_up(client, engine, other, "dan@example.com")
    for email in ("dan-old@example.com", "dan@example.com"):
        moved = {"list_id": news, "contacts": [{"external_id": "u2", "email": email}]}
        assert client.post(f"{API}/contacts/bulk", json=moved).status_code == 200
    assert membership(engine, other, "dan@example.com") == "unconfirmed"
    assert membership(engine, news, "dan@example.com") == "subscribed"


def test_an_import_confirms_a_waiting_signup_under_its_own_name(
    client: TestClient, engine: Engine, settings: Settings
) -> None:
    news = signup_list(engine, "News")
    _signed_up(client, engine, news, "ann@example.com", "bob@example.com")
    body = b"email\nann@example.com\ncarol@example.com\n"
    r = client.post(f"{API}/lists/{news}/imports", files={"file": ("crm.csv", body)})
    assert r.status_code == 202 and r.json()["state"] == "done", r.text
    import_id = r.json()["id"]

    assert membership(engine, news, "ann@example.com") == "subscribed"
    assert membership(engine, news, "bob@example.com") == "unconfirmed"
    ann = contact_id(engine, "ann@example.com")
    assert ann is not None
    [confirm] = [e for e in ledger(engine, ann) if e.action == "confirm"]
    assert (confirm.list_id, confirm.actor_kind, confirm.actor) == (news, "import", f"import {import_id}")
    assert confirm.source == f"import {import_id} (crm.csv)"
    assert _included(engine, settings, news) == 2  # ann and carol; bob still waits

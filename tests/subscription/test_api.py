"""The signup API: a list's signup settings (read, change, each problem naming its field) and a CMS's
subscribe, with the API's contract (write key, problem+json, Idempotency-Key) and the same answer for every
address."""

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from app.audience import fields
from app.models import Contact
from tests.conftest import make_api_key
from tests.subscription.support import contact_id, job_ran, ledger, membership, messages, signup_list


def test_settings_are_read_and_changed_and_a_bad_one_names_its_field(client: TestClient, engine: Engine) -> None:
    list_id = signup_list(engine, public=False)
    r = client.get(f"/api/v1/lists/{list_id}/signup")
    assert r.status_code == 200
    body = r.json()
    assert body["public"] is False and body["double_opt_in"] is True and body["consent_text"] is None
    assert body["form_url"] == f"http://testserver/s/{list_id}" and f'action="{body["form_url"]}"' in body["snippet"]

    r = client.patch(f"/api/v1/lists/{list_id}/signup", json={"public": True, "consent_text": "Yes, mail me."})
    assert r.status_code == 200 and r.json()["public"] is True
    assert r.json()["consent_text"]["version"] == 1
    r = client.patch(f"/api/v1/lists/{list_id}/signup", json={"consent_text": "Yes, mail me news."})
    assert r.json()["consent_text"]["version"] == 2

    problems = {
        "confirm_text": {"confirm_text": "Hello {{ nobody_knows_me }} {{ confirm_url }}"},
        "fields": {"fields": ["no_such_field"]},
        "welcome_text": {"welcome_subject": "Welcome"},
    }
    for field, change in problems.items():
        r = client.patch(f"/api/v1/lists/{list_id}/signup", json=change)
        assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json"), r.text
        assert r.json()["errors"][0]["field"] == field, r.text
    r = client.patch(f"/api/v1/lists/{list_id}/signup", json={"confirm_text": "No link in here"})
    assert r.status_code == 422 and "confirm_url" in r.json()["errors"][0]["msg"]
    assert client.get("/api/v1/lists/999999/signup").status_code == 404


def test_a_cms_subscribes_a_person_with_their_ip_in_the_ledger(client: TestClient, engine: Engine) -> None:
    list_id = signup_list(engine, public=False)  # a private list: no hosted form, the CMS still subscribes
    person = {"email": "erin@example.com", "first_name": "Erin", "ip": "203.0.113.7", "user_agent": "Firefox"}
    r = client.post(f"/api/v1/lists/{list_id}/subscribe", json=person, headers={"Idempotency-Key": "signup-1"})
    assert r.status_code == 202 and r.json() == {"status": "accepted"}
    again = client.post(f"/api/v1/lists/{list_id}/subscribe", json=person, headers={"Idempotency-Key": "signup-1"})
    assert again.status_code == 202
    job_ran(engine)
    assert membership(engine, list_id, "erin@example.com") == "unconfirmed"
    contact = contact_id(engine, "erin@example.com")
    assert contact is not None
    [entry] = ledger(engine, contact)
    assert (entry.actor_kind, entry.ip, entry.user_agent) == ("api_key", "203.0.113.7", "Firefox")
    assert entry.actor.startswith("API key")
    assert [m.kind for m in messages(engine)] == ["confirm"]
    # a second signup without the key replayed answers the same, and queues nothing new within the hour
    assert client.post(f"/api/v1/lists/{list_id}/subscribe", json=person).json() == {"status": "accepted"}
    job_ran(engine)
    assert len(messages(engine)) == 1

    r = client.post(f"/api/v1/lists/{list_id}/subscribe", json={"email": "not-an-address"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "email"
    r = client.post(f"/api/v1/lists/{list_id}/subscribe", json={"email": "fay@example.com", "fields": {"nope": 1}})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "fields.nope"
    with Session(engine) as s:
        fields.define(s, "plan", "Plan", "choice", ["free", "pro"])
        s.commit()
    r = client.post(f"/api/v1/lists/{list_id}/subscribe", json={"email": "fay@example.com", "fields": {"plan": "gold"}})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "fields.plan"
    r = client.post(f"/api/v1/lists/{list_id}/subscribe", json={"email": "fay@example.com", "fields": {"plan": "PRO"}})
    assert r.status_code == 202
    job_ran(engine)
    with Session(engine) as s:
        fay = s.get(Contact, contact_id(engine, "fay@example.com"))
        assert fay is not None and fay.attributes == {"plan": "pro"}
    r = client.post("/api/v1/lists/999999/subscribe", json={"email": "erin@example.com"})
    assert r.status_code == 404 and r.json()["errors"][0]["field"] == "list_id"
    read_only = TestClient(client.app, headers={"Authorization": f"Bearer {make_api_key(engine, 'read')}"})
    assert read_only.post(f"/api/v1/lists/{list_id}/subscribe", json=person).status_code == 403

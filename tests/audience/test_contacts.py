"""Contacts over the API: finding them (search, list and status filters, cursor pages), reading,
changing with custom fields checked, exporting everything held, and erasing; on both databases."""

import json

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, text
from sqlmodel import Session

from app.models import (
    Bounce,
    Campaign,
    ConsentEvent,
    Contact,
    Delivery,
    ImportJob,
    ImportReject,
    MailingList,
    Suppression,
    WebhookEvent,
    utcnow,
)
from tests.audience.test_api import _list, _upload, _wait

API = "/api/v1"


def _push(client: TestClient, list_id: int | None, *contacts: dict) -> dict:
    r = client.post(f"{API}/contacts/bulk", json={"list_id": list_id, "contacts": list(contacts)})
    assert r.status_code == 200, r.text
    return r.json()


def _people(client: TestClient) -> tuple[int, int, dict[str, int]]:
    news, other = _list(client, "News"), _list(client, "Other")
    result = _push(
        client,
        news,
        {"external_id": "1", "email": "ann.example@mail.test", "first_name": "Ann", "last_name": "Lee",
         "attributes": {"company": "Acme Widgets", "city": "Berlin"}},
        {"external_id": "2", "email": "bob@example.org", "first_name": "Bob", "last_name": "Stone",
         "attributes": {"company": "Globex"}},
        {"external_id": "3", "email": "carla@example.org", "first_name": "Carla", "last_name": "Acmeson"},
    )  # fmt: skip
    _push(client, other, {"external_id": "2", "email": "bob@example.org"})
    ids = {r["external_id"]: r["contact_id"] for r in result["results"]}
    return news, other, ids


def _emails(client: TestClient, query: str) -> list[str]:
    r = client.get(f"{API}/contacts?{query}")
    assert r.status_code == 200, r.text
    return [c["email"] for c in r.json()["items"]]


def test_search_by_address_name_or_attribute_with_list_and_status_filters(client: TestClient) -> None:
    news, other, _ = _people(client)
    assert _emails(client, "") == ["carla@example.org", "bob@example.org", "ann.example@mail.test"]  # newest first
    assert _emails(client, "q=example.org") == ["carla@example.org", "bob@example.org"]
    assert _emails(client, "q=STONE") == ["bob@example.org"]  # a name, any case
    assert _emails(client, "q=acme") == ["carla@example.org", "ann.example@mail.test"]  # attribute and name
    assert _emails(client, "q=berlin") == ["ann.example@mail.test"]
    assert _emails(client, "q=bo") == ["bob@example.org"]  # shorter than a trigram: the start of the address
    assert _emails(client, "q=nobody-here") == []
    assert _emails(client, f"list_id={other}") == ["bob@example.org"]
    assert _emails(client, f"q=example&list_id={news}") == ["carla@example.org", "bob@example.org",
                                                             "ann.example@mail.test"]  # fmt: skip
    client.post(f"{API}/suppressions", json={"email": "bob@example.org", "reason": "unsubscribed"})
    assert _emails(client, "status=unsubscribed") == ["bob@example.org"]
    assert _emails(client, "status=active") == ["carla@example.org", "ann.example@mail.test"]
    bob = client.get(f"{API}/contacts?q=bob").json()["items"][0]
    assert bob["status"] == "unsubscribed" and bob["attributes"] == {"company": "Globex"}
    # cursor pages
    first = client.get(f"{API}/contacts?limit=2").json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    rest = client.get(f"{API}/contacts?limit=2&cursor={first['next_cursor']}").json()
    assert [c["email"] for c in rest["items"]] == ["ann.example@mail.test"] and rest["next_cursor"] is None
    bad = client.get(f"{API}/contacts?cursor=nonsense")
    assert bad.status_code == 400 and bad.json()["errors"][0]["loc"] == ["query", "cursor"]
    assert client.get(f"{API}/contacts?status=sleeping").status_code == 422


def test_an_imported_file_is_searchable_and_its_consent_rows_name_the_file(client: TestClient, engine: Engine) -> None:
    list_id = _list(client)
    body = b"email,first name,last name,Company\nzoe@example.com,Zoe,Quill,Initech\nyan@example.com,Yan,Ott,Hooli\n"
    job = _wait(client, _upload(client, list_id, "people.csv", body).json()["id"])
    assert job["added"] == 2
    assert _emails(client, "q=initech") == ["zoe@example.com"]
    zoe = client.get(f"{API}/contacts?q=zoe").json()["items"][0]
    export = client.get(f"{API}/contacts/{zoe['id']}/export").json()
    [event] = export["consent"]
    assert event["action"] == "import" and event["list_id"] == list_id
    assert event["source"] == f"import {job['id']} (people.csv)" and event["actor_kind"] == "import"


def test_patch_checks_custom_fields_and_records_the_edit(client: TestClient) -> None:
    _, _, ids = _people(client)
    for field in (
        {"name": "employees", "label": "Employees", "type": "number"},
        {"name": "plan", "label": "Plan", "type": "choice", "choices": ["Free", "Pro"]},
        {"name": "since", "label": "Customer since", "type": "date"},
        {"name": "vip", "label": "VIP", "type": "boolean"},
    ):
        assert client.post(f"{API}/fields", json=field).status_code == 201
    ann = ids["1"]
    r = client.patch(f"{API}/contacts/{ann}", json={"attributes": {"employees": "many", "plan": "Gold"}})
    assert r.status_code == 422
    problems = {tuple(e["loc"]): e["msg"] for e in r.json()["errors"]}
    assert problems[("body", "attributes", "employees")] == 'expected a number, not "many"'
    assert problems[("body", "attributes", "plan")] == '"Gold" is not one of: Free, Pro'
    r = client.patch(
        f"{API}/contacts/{ann}",
        json={"first_name": "Anne", "attributes": {"employees": "1.200", "plan": "pro", "since": "01.02.2024",
                                                   "vip": "yes", "city": None}},
    )  # fmt: skip
    assert r.status_code == 200, r.text
    assert r.json()["first_name"] == "Anne"
    assert r.json()["attributes"] == {"company": "Acme Widgets", "employees": 1200, "plan": "Pro",
                                      "since": "2024-02-01", "vip": True}  # fmt: skip
    assert _emails(client, "q=anne") == ["ann.example@mail.test"]  # re-indexed at once
    assert _emails(client, "q=berlin") == []
    events = client.get(f"{API}/contacts/{ann}/export").json()["consent"]
    assert [e["action"] for e in events] == ["cms", "edit"]
    assert events[1]["actor_kind"] == "api_key" and events[1]["actor"].startswith("API key ")
    assert events[1]["detail"] == {"fields": ["city", "employees", "first_name", "plan", "since", "vip"]}
    assert "Berlin" not in json.dumps(events)  # the ledger names fields, never values
    assert client.get(f"{API}/contacts/999999").status_code == 404


def test_custom_fields_api(client: TestClient) -> None:
    r = client.post(f"{API}/fields", json={"name": "company", "label": "Company", "type": "text"})
    assert r.status_code == 201 and r.json()["name"] == "company"
    dup = client.post(f"{API}/fields", json={"name": "company", "label": "Firm", "type": "text"})
    assert dup.status_code == 409 and dup.json()["errors"][0]["loc"] == ["body", "name"]
    for bad, field in (
        ({"name": "Company Name", "label": "x", "type": "text"}, "name"),
        ({"name": "email", "label": "x", "type": "text"}, "name"),
        ({"name": "tier", "label": "Tier", "type": "choice"}, "choices"),
        ({"name": "tier", "label": "Tier", "type": "colour"}, "type"),
    ):
        r = client.post(f"{API}/fields", json=bad)
        assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", field], (bad, r.text)
    fid = client.get(f"{API}/fields").json()["items"][0]["id"]
    assert client.patch(f"{API}/fields/{fid}", json={"label": "Company name"}).json()["label"] == "Company name"
    assert client.delete(f"{API}/fields/{fid}").status_code == 204
    assert client.get(f"{API}/fields").json()["items"] == []


def test_import_checks_custom_fields_naming_line_column_and_field(client: TestClient) -> None:
    client.post(f"{API}/fields", json={"name": "employees", "label": "Employees", "type": "number"})
    client.post(f"{API}/fields", json={"name": "company", "label": "Company", "type": "text", "required": True})
    list_id = _list(client)
    body = b"email,Firma,Staff\na@example.com,Acme,12\nb@example.com,Globex,a dozen\nc@example.com,,3\n"
    mapping = json.dumps({"fields": {"Firma": "company", "Staff": "employees"}})
    job = _wait(client, _upload(client, list_id, "f.csv", body, column_mapping=mapping).json()["id"])
    assert (job["added"], job["invalid"]) == (1, 2)
    rejects = client.get(f"{API}/imports/{job['id']}/rejects").json()["items"]
    assert [(r["line"], r["column"], r["reason"]) for r in rejects] == [
        (3, 3, 'Employees (employees): expected a number, not "a dozen"'),
        (4, 2, "Company (company): is required"),  # its empty cell
    ]
    assert client.get(f"{API}/contacts?q=a@example.com").json()["items"][0]["attributes"] == {
        "company": "Acme", "employees": 12,
    }  # fmt: skip
    unknown = json.dumps({"fields": {"Firma": "firm"}})
    job = _wait(client, _upload(client, list_id, "f.csv", body, column_mapping=unknown).json()["id"])
    assert job["state"] == "failed" and 'no custom field named "firm"' in job["error"]


def _ledger_rows(engine: Engine, email: str) -> None:
    with Session(engine) as s:
        campaign = Campaign(name="Spring", from_address="news@example.test", subject="Hi", text_template="x")
        s.add(campaign)
        s.flush()
        d = Delivery(campaign_id=campaign.id, email=email, email_key=email, state="bounced", attempts=1,  # type: ignore[arg-type]
                     last_reply=f"550 5.1.1 <{email}>: unknown", sent_at=utcnow())  # fmt: skip
        s.add(d)
        s.flush()
        s.add(Bounce(kind="bounce", reason="userunknown", hard=True, email=email, email_key=email, status="5.1.1",
                     diagnostic=f"550 5.1.1 <{email}>... User unknown", original_headers=f"To: Ann <{email}>\n",
                     delivery_id=d.id, campaign_id=campaign.id))  # fmt: skip
        s.add(WebhookEvent(type="bounce", data={"email": email, "campaign_id": campaign.id, "diagnostic": email}))
        news = s.execute(select(MailingList)).scalars().first()
        job = ImportJob(list_id=news.id, filename="old.csv", format="csv")  # type: ignore[union-attr]
        s.add(job)
        s.flush()
        s.add(ImportReject(import_id=job.id, line=3, value=f"{email.upper()},Ann,Lee,extra", reason="ragged"))  # type: ignore[arg-type]
        s.commit()


def test_export_holds_everything_and_erasure_removes_it(client: TestClient, engine: Engine) -> None:
    _, _, ids = _people(client)
    ann, email = ids["1"], "ann.example@mail.test"
    _ledger_rows(engine, email)
    client.post(f"{API}/suppressions", json={"email": email, "reason": "manual", "note": "asked by phone"})
    export = client.get(f"{API}/contacts/{ann}/export").json()
    assert export["contact"]["email"] == email and export["contact"]["status"] == "manual"
    assert [m["list_name"] for m in export["lists"]] == ["News"]
    assert export["deliveries"][0]["campaign_name"] == "Spring" and export["deliveries"][0]["state"] == "bounced"
    assert export["bounces"][0]["reason"] == "userunknown"
    assert export["suppressions"][0]["note"] == "asked by phone"

    assert client.delete(f"{API}/contacts/{ann}").status_code == 204
    again = client.delete(f"{API}/contacts/{ann}")
    assert again.status_code == 409 and "erased already" in again.json()["detail"]
    contact = client.get(f"{API}/contacts/{ann}").json()
    assert contact["status"] == "erased" and contact["email"] == "" and contact["attributes"] == {}
    assert contact["first_name"] is None and contact["external_id"] is None
    assert _emails(client, "q=acme widgets") == []
    with Session(engine) as s:
        dump = "\n".join(
            json.dumps(list(map(str, row)))
            for table in ("contact", "delivery", "delivery_attempt", "bounce", "suppression", "list_member",
                          "webhook_event", "consent_event", "contact_search", "import_reject")
            for row in s.execute(text(f"SELECT * FROM {table}")).all()
        )  # fmt: skip
        assert "ann.example" not in dump.lower() and "Acme Widgets" not in dump
        [erased] = s.execute(select(Suppression).where(Suppression.reason == "erased")).scalars().all()
        assert erased.email == "" and erased.email_key.startswith("erased:") and len(erased.email_key) == 71
        bounce = s.execute(select(Bounce)).scalars().one()
        assert bounce.diagnostic == "550 5.1.1 <[erased]>... User unknown" and bounce.original_headers == ""
        assert bounce.reason == "userunknown"  # the statistics stay
    events = client.get(f"{API}/contacts/{ann}/export").json()["consent"]
    assert [e["action"] for e in events] == ["cms", "erase"]
    [listed] = client.get(f"{API}/suppressions?reason=erased").json()["items"]
    assert listed["email"] == "" and listed["source"] == "erasure"
    # nobody brings them back: not an import, not a CMS push
    list_id = _list(client, "Later")
    job = _wait(client, _upload(client, list_id, "back.csv", f"email\n{email.upper()}\nnew@example.com\n".encode())
                .json()["id"])  # fmt: skip
    assert (job["added"], job["invalid"]) == (1, 1)
    [reject] = client.get(f"{API}/imports/{job['id']}/rejects").json()["items"]
    assert reject["reason"].startswith("erased") and reject["value"] == "" and reject["line"] == 2
    pushed = _push(client, list_id, {"external_id": "9", "email": email})
    assert pushed["results"][0]["status"] == "erased" and pushed["rejected"] == 1
    assert _emails(client, f"list_id={list_id}") == ["new@example.com"]


def test_the_consent_ledger_refuses_updates_and_deletes(client: TestClient, engine: Engine) -> None:
    _people(client)
    with Session(engine) as s:
        event = s.execute(select(ConsentEvent)).scalars().first()
        assert event is not None
        for statement in ("UPDATE consent_event SET actor = 'someone else'", "DELETE FROM consent_event"):
            with pytest.raises(Exception, match="append-only"):
                s.execute(text(statement))
            s.rollback()
        event.action = "subscribe"
        s.add(event)
        with pytest.raises(Exception, match="append-only"):
            s.commit()
        s.rollback()
        assert s.execute(text("SELECT count(*) FROM consent_event")).scalar_one() == 4


def test_erasing_needs_a_write_key(client: TestClient, engine: Engine) -> None:
    from tests.conftest import make_api_key

    _, _, ids = _people(client)
    read = make_api_key(engine, "read")
    r = client.delete(f"{API}/contacts/{ids['1']}", headers={"Authorization": f"Bearer {read}"})
    assert r.status_code == 403
    with Session(engine) as s:
        assert s.get(Contact, ids["1"]).email == "ann.example@mail.test"  # type: ignore[union-attr]

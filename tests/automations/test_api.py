"""/api/v1/automations: build a series step by step, reorder it, activate it, start it by an event, and ask the
dry run what a contact would get and when."""

from datetime import datetime, timedelta

from sqlmodel import Session

from app.automations.advance import sweep
from app.models import Contact
from tests.automations.support import ledger_rows, template


def _contact(engine, address: str) -> None:  # type: ignore[no-untyped-def]
    with Session(engine) as s:
        s.add(Contact(email=address, email_key=address, first_name="Ann"))
        s.commit()


def test_a_series_built_over_the_api_starts_by_an_event_and_its_dry_run_shows_when(client, engine) -> None:  # type: ignore[no-untyped-def]
    hello = template(engine, "Hello", "Hello {{ first_name }}", "Hi")
    later = template(engine, "Later", "Later", "Again")
    _contact(engine, "ann@example.test")
    made = client.post("/api/v1/automations", json={"name": "Onboarding", "trigger": "event", "event": "signed_up",
                                                     "from_address": "news@example.test"})  # fmt: skip
    assert made.status_code == 201, made.text
    base = f"/api/v1/automations/{made.json()['id']}"
    bad = client.post(f"{base}/steps", json={"kind": "send", "options": {"template_id": 999}})
    assert bad.status_code == 422 and bad.json()["errors"][0]["loc"] == ["body", "options.template_id"]
    for kind, options in (("wait", {"days": 3}), ("send", {"template_id": hello}), ("send", {"template_id": later})):
        assert client.post(f"{base}/steps", json={"kind": kind, "options": options}).status_code == 201
    steps = client.get(base).json()["steps"]
    moved = client.patch(f"{base}/steps/{steps[0]['id']}", json={"move": "down"})  # send Hello, wait, send Later
    assert [s["kind"] for s in moved.json()["steps"]] == ["send", "wait", "send"]
    assert client.patch(f"{base}/steps/{steps[1]['id']}", json={"move": "up"}).status_code == 422  # already first
    assert client.patch(base, json={"state": "active"}).json()["state"] == "active"

    plan = client.post(f"{base}/dry-run", json={"email": "Ann@Example.test"}).json()
    assert plan["enters"] and [s["outcome"] for s in plan["steps"]][0] == "sends “Hello {{ first_name }}”"
    first, last = (datetime.fromisoformat(plan["steps"][i]["at"]) for i in (0, 2))
    assert last - first == timedelta(days=3)
    assert client.post(f"{base}/dry-run", json={"email": "nobody@example.test"}).json()["errors"][0]["loc"] == [
        "body",
        "email",
    ]

    entered = client.post("/api/v1/automations/events", json={"event": "signed_up", "email": "ann@example.test"})
    assert entered.json() == {"entered": [made.json()["id"]]}
    assert client.post(
        "/api/v1/automations/events", json={"event": "signed_up", "email": "ann@example.test"}
    ).json() == {"entered": []}  # once
    sweep(engine)
    assert [r.email for r in ledger_rows(engine)] == ["ann@example.test"]
    after = client.post(f"{base}/dry-run", json={"email": "ann@example.test"}).json()
    assert [s["outcome"] for s in after["steps"]][0] == "done already"
    shown = client.get(base).json()
    assert [s["contacts_here"] for s in shown["steps"]] == [0, 0, 1]  # at the second message, due after the wait
    assert client.delete(f"{base}/steps/{steps[1]['id']}").status_code == 200
    assert client.delete(base).status_code == 204
    assert client.get(base).status_code == 404


def test_bad_input_is_refused_naming_the_field(client, engine) -> None:  # type: ignore[no-untyped-def]
    def refused(url: str, body: dict) -> list:  # type: ignore[type-arg]
        r = client.post(url, json=body)
        assert r.status_code == 422, r.text
        return r.json()["errors"][0]["loc"]

    base = {"name": "A", "from_address": "news@example.test"}
    assert refused("/api/v1/automations", {**base, "trigger": "list_joined", "list_id": 2**63}) == ["body", "list_id"]
    assert refused("/api/v1/automations", {**base, "trigger": "date_reached"}) == ["body", "field"]
    assert refused("/api/v1/automations", {**base, "trigger": "event", "event": "x", "from_address": "no"}) == [
        "body",
        "from_address",
    ]
    made = client.post("/api/v1/automations", json={**base, "trigger": "event", "event": "x"}).json()
    steps = f"/api/v1/automations/{made['id']}/steps"
    assert refused(steps, {"kind": "branch", "options": {"on": "opened", "else": [1]}}) == ["body", "options.else"]
    assert refused(steps, {"kind": "branch", "options": {"on": "opened", "else": 12345}}) == ["body", "options.else"]
    assert refused(steps, {"kind": "wait", "options": {"hour": 9, "zone": "../../etc/passwd"}}) == [
        "body",
        "options.zone",
    ]
    assert refused(steps, {"kind": "wait", "options": {"days": -1}}) == ["body", "options.days"]
    assert client.get(f"/api/v1/automations/{made['id']}").json()["steps"] == []

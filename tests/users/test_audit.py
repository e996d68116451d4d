"""The audit log: who (a user or an API key), when, what and on which object, for every change made on the
pages or through the API; nothing typed (no password, key or token) in it; only admins read it."""

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlmodel import Session, col

from app.models import AuditEntry
from tests.conftest import make_api_key
from tests.users.support import make_user_of, signed_in

SMTP_PASSWORD = "relay-password-never-logged"


def _entries(engine: Engine) -> list[AuditEntry]:
    with Session(engine) as s:
        return list(s.execute(select(AuditEntry).order_by(col(AuditEntry.id))).scalars())


def test_changes_on_the_pages_and_through_the_api_are_recorded_without_secrets(
    anon_client: TestClient, engine: Engine
) -> None:
    make_user_of(engine, "admin")
    marketer_id = make_user_of(engine, "marketer")
    admin = signed_in(anon_client, "admin@example.test")
    marketer = signed_in(anon_client, "marketer@example.test")
    before = len(_entries(engine))  # the two sign-ins

    r = marketer.post("/lists", data={"name": "Spring"}, follow_redirects=False)
    list_id = r.headers["location"].rsplit("/", 1)[1]
    marketer.post(f"/lists/{list_id}/rename", data={"name": "Spring 2027", "description": ""})
    marketer.post("/campaigns/preview", data={"subject": "x"})  # shows, changes nothing: not recorded
    marketer.post(f"/lists/{list_id}/delete")
    admin.post("/settings", data={"smtp_password": SMTP_PASSWORD, "smtp_host": "relay.example.test"})
    page = admin.post("/settings/api-keys", data={"name": "CMS", "scope": "write"}).text
    new_key = page.split('<code id="new-key">')[1].split("<")[0]
    admin.post(f"/users/{marketer_id}/role", data={"role": "viewer"})
    viewer_refused = marketer.post("/lists", data={"name": "refused"})  # a refusal changes nothing
    assert viewer_refused.status_code == 403

    api = TestClient(anon_client.app, headers={"Authorization": f"Bearer {make_api_key(engine)}"})
    created = api.post("/api/v1/lists", json={"name": "From the CMS"}).json()
    assert api.delete(f"/api/v1/lists/{created['id']}").status_code == 204
    api.get("/api/v1/lists")  # a read: not recorded

    got = [(e.actor_kind, e.actor, e.action, e.object_type, e.object_id) for e in _entries(engine)[before:]]
    key_prefix = got[-1][1]
    assert got == [
        ("user", "marketer@example.test", "lists.create", "list", list_id),
        ("user", "marketer@example.test", "lists.rename", "list", list_id),
        ("user", "marketer@example.test", "lists.delete", "list", list_id),
        ("user", "admin@example.test", "settings.save", None, None),
        ("user", "admin@example.test", "settings.api_keys.create", "api_key", got[4][4]),
        ("user", "admin@example.test", "users.role", "user", str(marketer_id)),
        ("api_key", key_prefix, "lists.create", "list", str(created["id"])),
        ("api_key", key_prefix, "lists.delete", "list", str(created["id"])),
    ]
    assert key_prefix.endswith("…")
    api_routes = [e.route for e in _entries(engine) if e.actor_kind == "api_key"]
    assert api_routes == ["POST /api/v1/lists", "DELETE /api/v1/lists/{list_id}"]
    role_change = _entries(engine)[before + 5]
    assert role_change.detail == {"role": "viewer"} and role_change.route == "POST /users/{user_id}/role"
    everything = " ".join(str(vars(e)) for e in _entries(engine))
    assert SMTP_PASSWORD not in everything and new_key not in everything
    assert "correct horse" not in everything  # the sign-in passwords


def test_only_admins_read_the_audit_log_a_page_at_a_time(anon_client: TestClient, engine: Engine) -> None:
    make_user_of(engine, "admin")
    make_user_of(engine, "marketer")
    admin = signed_in(anon_client, "admin@example.test")
    for i in range(55):
        admin.post("/lists", data={"name": f"Spring {i}"})
    page = admin.get("/audit").text
    assert page.count("lists.create") == 50 and "Spring 54" not in page  # nothing typed, only what and which
    assert 'rel="next"' in page
    next_url = page.split('rel="next"')[0].rsplit('href="', 1)[1].split('"')[0].replace("&amp;", "&")
    second = admin.get(next_url).text
    assert second.count("lists.create") == 5 and "login" in second  # the oldest: the sign-in
    assert signed_in(anon_client, "marketer@example.test").get("/audit").status_code == 403


def test_an_idempotent_replay_is_not_recorded_twice(anon_client: TestClient, engine: Engine) -> None:
    api = TestClient(anon_client.app, headers={"Authorization": f"Bearer {make_api_key(engine)}"})
    for _ in range(2):
        r = api.post("/api/v1/lists", json={"name": "Once"}, headers={"Idempotency-Key": "create-once"})
        assert r.status_code == 201
    assert [(e.action, e.object_id) for e in _entries(engine)] == [("lists.create", str(r.json()["id"]))]

"""The server-side session store: signing out, deactivating a user or resetting their second factor ends
their sessions at once, and a copied cookie is worth nothing after it."""

from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlmodel import Session

from app.models import WebSession
from tests.users.support import PASSWORD, make_user_of, signed_in
from tests.web.conftest import csrf_of


def _sessions(engine: Engine) -> int:
    with Session(engine) as s:
        return int(s.execute(select(func.count()).select_from(WebSession)).scalar_one())


def test_sign_out_ends_the_session_even_for_a_copy_of_the_cookie(anon_client: TestClient, engine: Engine) -> None:
    make_user_of(engine, "marketer")
    browser = signed_in(anon_client, "marketer@example.test")
    copy = TestClient(anon_client.app, cookies=dict(browser.client.cookies))
    assert copy.get("/lists", follow_redirects=False).status_code == 200
    assert browser.post("/logout", follow_redirects=False).status_code == 303
    r = copy.get("/lists", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    assert _sessions(engine) == 0


def test_deactivating_a_user_signs_out_each_of_their_browsers_at_their_next_request(
    anon_client: TestClient, engine: Engine
) -> None:
    make_user_of(engine, "admin")
    marketer = make_user_of(engine, "marketer")
    admin = signed_in(anon_client, "admin@example.test")
    laptop = signed_in(anon_client, "marketer@example.test")
    phone = signed_in(anon_client, "marketer@example.test")
    assert laptop.get("/lists", follow_redirects=False).status_code == 200
    r = admin.post(f"/users/{marketer}/deactivate", follow_redirects=False)
    assert r.status_code == 303
    for browser in (laptop, phone):
        r = browser.get("/lists", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login")
    # and they cannot sign in again until reactivated
    client = TestClient(anon_client.app)
    token = csrf_of(client.get("/login").text)
    r = client.post("/login", data={"email": "marketer@example.test", "password": PASSWORD, "csrf_token": token})
    assert r.status_code == 400 and "deactivated" in r.text
    assert admin.post(f"/users/{marketer}/reactivate", follow_redirects=False).status_code == 303
    assert signed_in(anon_client, "marketer@example.test").get("/lists").status_code == 200


def test_an_admin_cannot_lock_everyone_out(anon_client: TestClient, engine: Engine) -> None:
    me = make_user_of(engine, "admin")
    admin = signed_in(anon_client, "admin@example.test")
    r = admin.post(f"/users/{me}/deactivate")
    assert "you cannot deactivate yourself" in r.text
    r = admin.post(f"/users/{me}/role", data={"role": "viewer"})
    assert "the only active administrator" in r.text
    assert admin.get("/users").status_code == 200  # still an admin


def test_a_role_change_applies_at_the_next_request(anon_client: TestClient, engine: Engine) -> None:
    make_user_of(engine, "admin")
    marketer = make_user_of(engine, "marketer")
    admin = signed_in(anon_client, "admin@example.test")
    browser = signed_in(anon_client, "marketer@example.test")
    assert browser.post("/lists", data={"name": "before"}, follow_redirects=False).status_code == 303
    admin.post(f"/users/{marketer}/role", data={"role": "viewer"})
    r = browser.post("/lists", data={"name": "after"}, follow_redirects=False)
    assert r.status_code == 403 and "your role (viewer) may only read" in r.text

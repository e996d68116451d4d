"""Sign-in, the session cookie, CSRF, lock-out, and `bulkmail user create`."""

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlmodel import Session
from typer.testing import CliRunner

from app.models import User, utcnow
from app.users import authenticate, lock_for
from tests.web.conftest import EMAIL, PASSWORD, csrf_of, make_user, sign_in


def test_pages_without_a_session_redirect_to_sign_in_and_back(anon_client: TestClient, engine):
    for path in ("/", "/lists", "/campaigns/new", "/settings"):
        r = anon_client.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")
    make_user(engine)
    r = anon_client.get("/bounces?kind=bounce")  # follows to the sign-in page
    token = csrf_of(r.text)
    assert 'name="next" value="/bounces?kind=bounce"' in r.text
    r = anon_client.post("/login", data={"email": EMAIL, "password": PASSWORD, "csrf_token": token,
                                         "next": "/bounces?kind=bounce"}, follow_redirects=False)  # fmt: skip
    assert r.status_code == 303 and r.headers["location"] == "/bounces?kind=bounce"


def test_session_cookie_is_httponly_and_samesite_and_sign_out_ends_it(anon_client, engine):
    make_user(engine)
    r = sign_in(anon_client)
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie
    assert anon_client.get("/", follow_redirects=False).status_code == 200
    token = csrf_of(anon_client.get("/").text)
    assert anon_client.post("/logout", data={"csrf_token": token}, follow_redirects=False).status_code == 303
    assert anon_client.get("/", follow_redirects=False).status_code == 303


def test_forms_without_the_csrf_token_are_refused(anon_client, engine):
    make_user(engine)
    # even the sign-in form: a login CSRF would sign the victim into the attacker's account
    r = anon_client.post("/login", data={"email": EMAIL, "password": PASSWORD})
    assert r.status_code == 403
    sign_in(anon_client)
    r = anon_client.post("/lists", data={"name": "sneaky"})
    assert r.status_code == 403 and "security token" in r.text
    r = anon_client.post("/lists", data={"name": "sneaky", "csrf_token": "forged"})
    assert r.status_code == 403
    assert "sneaky" not in anon_client.get("/lists").text


def test_next_never_leaves_the_site(anon_client, engine):
    make_user(engine)
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        token = csrf_of(anon_client.get("/login").text)  # each sign-in starts a fresh session
        r = anon_client.post("/login", data={"email": EMAIL, "password": PASSWORD, "csrf_token": token,
                                             "next": target}, follow_redirects=False)  # fmt: skip
        assert r.headers["location"] == "/"


def test_repeated_failures_lock_the_account_with_a_growing_delay(engine):
    make_user(engine)
    now = utcnow()
    for _ in range(4):
        assert authenticate(engine, EMAIL, "wrong", now).error == "wrong e-mail address or password"
    fifth = authenticate(engine, EMAIL, "wrong", now)
    assert "try again in 30 seconds" in fifth.error
    # locked: even the right password is refused until the delay is over
    assert "try again in" in authenticate(engine, EMAIL, PASSWORD, now + timedelta(seconds=10)).error
    sixth = authenticate(engine, EMAIL, "wrong", now + timedelta(seconds=31))
    assert "try again in 60 seconds" in sixth.error
    ok = authenticate(engine, EMAIL, PASSWORD, now + timedelta(seconds=92))
    assert ok.user_id is not None
    with Session(engine) as s:
        user = s.get(User, ok.user_id)
        assert (user.failed_logins, user.locked_until) == (0, None)
    assert lock_for(30) == timedelta(hours=1)


def test_unknown_user_gets_the_same_answer_as_a_wrong_password(engine):
    make_user(engine)
    assert authenticate(engine, "nobody@example.test", "x").error == authenticate(engine, EMAIL, "x").error


def test_sign_in_form_shows_errors_next_to_the_fields(anon_client, engine):
    make_user(engine)
    token = csrf_of(anon_client.get("/login").text)
    r = anon_client.post("/login", data={"email": "", "password": "", "csrf_token": token})
    assert r.status_code == 400
    assert 'id="email-error">enter your e-mail address' in r.text and 'aria-invalid="true"' in r.text


def test_user_create_command_makes_a_user_who_can_sign_in(settings, engine, monkeypatch):
    from app.cli import cli

    monkeypatch.setenv("BULKMAIL_DATABASE_URL", settings.database_url)
    import app.settings

    app.settings.get_settings.cache_clear()
    try:
        runner = CliRunner()
        r = runner.invoke(cli, ["user", "create", "--email", "Admin@Example.test"], input="long enough pw\n" * 2)
        assert r.exit_code == 0, r.output
        assert "created: Admin@example.test (admin)" in r.output
        again = runner.invoke(
            cli, ["user", "create", "--email", "admin@example.test", "--password", "another password"]
        )
        assert again.exit_code != 0 and "already exists" in again.output
        short = runner.invoke(cli, ["user", "create", "--email", "b@example.test", "--password", "short"])
        assert short.exit_code != 0 and "at least 10 characters" in short.output
        viewer = runner.invoke(cli, ["user", "create", "--email", "v@example.test", "--role", "viewer",
                                     "--password", "long enough pw"])  # fmt: skip
        assert viewer.exit_code == 0 and "(viewer)" in viewer.output
        bad = runner.invoke(cli, ["user", "create", "--email", "w@example.test", "--role", "owner",
                                  "--password", "long enough pw"])  # fmt: skip
        assert bad.exit_code != 0 and "choose one of admin, marketer, viewer" in bad.output
    finally:
        app.settings.get_settings.cache_clear()
    assert authenticate(engine, "admin@example.test", "long enough pw").user_id is not None


def test_api_health_and_unsubscribe_responses_carry_no_session_cookie(anon_client):
    for path in ("/healthz", "/api/v1/campaigns", "/u/not-a-token", "/static/style.css"):
        assert "set-cookie" not in anon_client.get(path).headers, path

"""Two-factor sign-in: enrolment with a QR code drawn on the server, codes that work once, recovery codes
shown once and usable once, and a per-role requirement that sends a user to enrolment at sign-in."""

import re
import time

import pyotp
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine, select, text
from sqlmodel import Session, col

from app.models import RecoveryCode, User
from app.sealed import new_seal_key, seal
from app.settings import Settings
from tests.users.support import PASSWORD, make_user_of, signed_in
from tests.web.conftest import csrf_of


def _password_step(client: TestClient, email: str) -> str:
    token = csrf_of(client.get("/login").text)
    r = client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": token, "next": "/lists"},
                    follow_redirects=False)  # fmt: skip
    assert r.status_code == 303
    return r.headers["location"]


def _enrol(client: TestClient, path: str) -> tuple[str, list[str], str]:
    """Enrol at `path`; returns the secret, the recovery codes and the code the enrolment used."""
    page = client.get(path).text
    assert "<svg" in page and "<img" not in page  # the QR code is in the page, from no other server
    secret = re.search(r'<code id="totp-secret">([A-Z2-7]+)</code>', page).group(1)  # type: ignore[union-attr]
    wrong = client.post(path, data={"code": "000000", "csrf_token": csrf_of(page)})
    assert wrong.status_code == 400 and "does not match" in wrong.text
    used = pyotp.TOTP(secret).now()
    r = client.post(path, data={"code": used, "csrf_token": csrf_of(page)})
    assert r.status_code == 200 and "shown only now" in r.text
    codes = re.findall(r"<li><code>([a-z2-9]{5}-[a-z2-9]{5})</code></li>", r.text)
    assert len(codes) == 10
    return secret, codes, used


def _code_step(client: TestClient, code: str):  # type: ignore[no-untyped-def]
    page = client.get("/login/code").text
    return client.post("/login/code", data={"code": code, "csrf_token": csrf_of(page)}, follow_redirects=False)


def test_a_role_that_requires_it_is_sent_to_enrolment_then_signs_in_with_codes(
    anon_client: TestClient, engine: Engine
) -> None:
    make_user_of(engine, "admin")
    make_user_of(engine, "marketer")
    admin = signed_in(anon_client, "admin@example.test")
    admin.post("/users/two-factor-policy", data={"require_totp": "marketer"})

    browser = TestClient(anon_client.app)
    assert _password_step(browser, "marketer@example.test") == "/login/enrol"
    assert browser.get("/lists", follow_redirects=False).status_code == 303  # not signed in yet
    secret, codes, used = _enrol(browser, "/login/enrol")
    assert browser.get("/lists", follow_redirects=False).status_code == 200
    with Session(engine) as s:  # the codes are kept hashed only
        stored = " ".join(s.execute(select(col(RecoveryCode.code_hash))).scalars())
        assert not any(c in stored or c.replace("-", "") in stored for c in codes)
    with engine.connect() as conn:  # and the seed sealed: the database alone does not give the codes
        (raw,) = conn.execute(text("SELECT totp_secret FROM web_user WHERE email = 'marketer@example.test'")).one()
    assert raw and secret not in raw and secret.lower() not in raw.lower()

    # the next sign-in asks for a code; the one just used does not work twice
    other = TestClient(anon_client.app)
    assert _password_step(other, "marketer@example.test") == "/login/code"
    r = _code_step(other, used)  # the very code enrolment took, even if the clock has moved on a step
    assert r.status_code == 400 and "already used" in r.text
    r = _code_step(other, pyotp.TOTP(secret).at(time.time() + 30))  # the next step: a clock a little ahead
    assert r.status_code == 303 and r.headers["location"] == "/lists"

    # a recovery code signs in once
    third = TestClient(anon_client.app)
    assert _password_step(third, "marketer@example.test") == "/login/code"
    assert _code_step(third, codes[0].upper()).status_code == 303
    fourth = TestClient(anon_client.app)
    _password_step(fourth, "marketer@example.test")
    assert _code_step(fourth, codes[0]).status_code == 400


def test_the_second_step_cannot_be_skipped_and_an_admin_can_reset_it(anon_client: TestClient, engine: Engine) -> None:
    uid = make_user_of(engine, "viewer")
    browser = signed_in(anon_client, "viewer@example.test")
    _enrol(browser, "/account/two-factor")  # any role may set it up for itself
    assert "On:" in browser.get("/account").text
    client = TestClient(anon_client.app)
    assert _password_step(client, "viewer@example.test") == "/login/code"
    for path in ("/", "/lists", "/account"):
        r = client.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login"), path
    # an administrator resets a lost phone: the user's sessions end and the second factor is gone
    make_user_of(engine, "admin")
    admin = signed_in(anon_client, "admin@example.test")
    admin.post(f"/users/{uid}/reset-two-factor")
    assert browser.get("/lists", follow_redirects=False).status_code == 303
    with Session(engine) as s:
        assert s.get(User, uid).totp_secret is None  # type: ignore[union-attr]
    assert signed_in(anon_client, "viewer@example.test").get("/lists").status_code == 200


def test_a_seed_sealed_with_another_key_is_refused_plainly_without_locking_out(
    anon_client: TestClient, engine: Engine, settings: Settings
) -> None:
    make_user_of(engine, "viewer")
    secret, _, _ = _enrol(signed_in(anon_client, "viewer@example.test"), "/account/two-factor")
    other_key = settings.model_copy(update={"seal_key": SecretStr(new_seal_key())})
    with engine.begin() as conn:  # as if this machine's BULKMAIL_SEAL_KEY differed from the one that sealed it
        conn.execute(text("UPDATE web_user SET totp_secret = :v"), {"v": seal(other_key, secret)})
    client = TestClient(anon_client.app)
    _password_step(client, "viewer@example.test")
    for _ in range(6):
        r = _code_step(client, pyotp.TOTP(secret).now())
        assert r.status_code == 400 and "ask an administrator" in r.text and "seal" not in r.text.lower()
    with Session(engine) as s:
        assert s.execute(select(col(User.failed_logins))).scalar_one() == 0


def test_guessing_codes_locks_the_account_for_a_growing_while(anon_client: TestClient, engine: Engine) -> None:
    make_user_of(engine, "viewer")
    browser = signed_in(anon_client, "viewer@example.test")
    secret, _, _ = _enrol(browser, "/account/two-factor")
    client = TestClient(anon_client.app)
    _password_step(client, "viewer@example.test")
    for guess in range(5):
        r = _code_step(client, f"{guess:06d}")
        assert r.status_code == 400
    assert "too many wrong codes" in _code_step(client, f"{9:06d}").text
    # even the right code waits out the lock
    r = _code_step(client, pyotp.TOTP(secret).at(time.time() + 30))
    assert r.status_code == 400 and "too many wrong codes: try again in" in r.text

"""The first-run page: with no user, the way in from a browser. Only from the machine itself or with
the one-time token `bulkmail serve` prints; gone once a user exists; CSRF like every form."""

import os
import queue
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from app.main import create_app
from app.models import User
from tests.support.network import free_port
from tests.web.conftest import csrf_of

ADMIN = "owner@example.test"
GOOD = {"email": ADMIN, "password": "a long passphrase", "password_again": "a long passphrase"}


@contextmanager
def _client(settings, host: str) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(create_app(settings), client=(host, 40000), follow_redirects=False) as c:
        yield c


def _users(engine) -> list[User]:  # type: ignore[no-untyped-def]
    with Session(engine) as s:
        return list(s.exec(select(User)).all())


def _post(c: TestClient, data: dict[str, str], page: str = "/login", **kw):  # type: ignore[no-untyped-def]
    token = csrf_of(c.get(page).text)  # the sign-in page always has a form, whoever asks
    return c.post("/setup", data={**data, "csrf_token": token}, **kw)


def test_from_this_machine_the_first_admin_is_made_and_then_the_page_is_gone(settings, engine):
    with _client(settings, "127.0.0.1") as c:
        login = c.get("/login").text
        assert 'id="first-run"' in login and 'href="/setup"' in login, "the sign-in page points the way in"
        assert c.get("/setup").status_code == 200
        r = _post(c, {**GOOD, "password_again": "something else"})
        assert r.status_code == 400 and 'id="password_again-error">the two passwords differ' in r.text
        r = _post(c, {**GOOD, "password": "short", "password_again": "short"})
        assert r.status_code == 400 and 'id="password-error">use at least 10 characters' in r.text
        assert _users(engine) == []
        r = _post(c, GOOD)
        assert r.status_code == 303 and r.headers["location"] == "/"
        assert "Welcome: owner@example.test is the administrator." in c.get("/").text, "signed in at once"
        [user] = _users(engine)
        assert (user.email, user.role) == (ADMIN, "admin")

        assert c.get("/setup").headers.get("location") == "/login"
        assert _post(c, {**GOOD, "email": "second@example.test"}, page="/").status_code == 404
        assert len(_users(engine)) == 1
    with _client(settings, "127.0.0.1") as fresh:
        assert 'id="first-run"' not in fresh.get("/login").text


def test_from_elsewhere_only_with_the_token_serve_printed(settings, engine):
    for host, headers in (("203.0.113.7", {}), ("127.0.0.1", {"X-Forwarded-For": "203.0.113.7"})):
        with _client(settings, host) as c:
            c.headers.update(headers)  # a reverse proxy on this machine speaks for another one
            c.app.state.setup_token = "one-time-token"
            r = c.get("/setup")
            assert r.status_code == 403 and "bulkmail serve" in r.text
            assert c.get("/setup?token=wrong").status_code == 403
            assert _post(c, GOOD).status_code == 403
            assert _post(c, {**GOOD, "token": "wrong"}).status_code == 403
            assert _users(engine) == []
    with _client(settings, "203.0.113.7") as c:
        c.app.state.setup_token = "one-time-token"
        page = c.get("/setup?token=one-time-token")
        assert page.status_code == 200 and 'name="token" value="one-time-token"' in page.text
        assert _post(c, {**GOOD, "token": "one-time-token"}).status_code == 303
        assert c.app.state.setup_token is None, "used up"
    assert [u.email for u in _users(engine)] == [ADMIN]


def test_a_first_run_form_without_its_csrf_token_is_refused(settings, engine):
    with _client(settings, "127.0.0.1") as c:
        c.get("/setup")  # a session exists, so only the missing token can be the reason
        r = c.post("/setup", data=GOOD)
        assert r.status_code == 403 and "security token" in r.text
        r = c.post("/setup", data={**GOOD, "csrf_token": "forged"})
        assert r.status_code == 403
    assert _users(engine) == []


def _lines(proc: subprocess.Popen) -> "queue.Queue[str]":  # type: ignore[type-arg]
    out: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [out.put(line) for line in proc.stdout], daemon=True).start()  # type: ignore[union-attr]
    return out


def _wait_line(lines: "queue.Queue[str]", text: str, timeout: float = 60) -> str:
    seen = []
    while True:
        line = lines.get(timeout=timeout)
        seen.append(line)
        if text in line:
            return line
        assert len(seen) < 200, seen


def test_serve_prints_the_database_and_a_one_time_first_run_link(tmp_path: Path):
    data = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("BULKMAIL_")}
    env.update(BULKMAIL_DATA_DIR=str(data), BULKMAIL_EMBEDDED_WORKER="false", BULKMAIL_SCHEDULER="false",
               PYTHONUNBUFFERED="1")  # fmt: skip
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "app", "serve", "--port", str(port)], env=env, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)  # fmt: skip
    try:
        lines = _lines(proc)
        assert f"database sqlite:///{data / 'bulkmail.db'}" in _wait_line(lines, "database ")
        link = _wait_line(lines, "No user yet")
        token = link.split("?token=")[1].split()[0]
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, timeout=10) as c:
            for _ in range(100):
                try:
                    page = c.get(f"/setup?token={token}")
                    break
                except httpx.TransportError:
                    threading.Event().wait(0.1)
            assert page.status_code == 200
            r = c.post("/setup", data={**GOOD, "token": token, "csrf_token": csrf_of(page.text)})
            assert r.status_code == 303
            assert c.get("/setup").status_code == 303, "gone"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert (data / "bulkmail.db").exists() and not (tmp_path / "bulkmail.db").exists()

"""Fixtures for the web pages: a user, and a TestClient signed in as that user."""

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from app.users import create_user

EMAIL = "marketer@example.test"
PASSWORD = "correct horse battery"


def make_user(engine: Engine, email: str = EMAIL, password: str = PASSWORD) -> int:
    with Session(engine) as s:
        user = create_user(s, email, password, role="admin")
        s.commit()
        return user.id  # type: ignore[return-value]


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the page has no CSRF field"
    return match.group(1)


def sign_in(client: TestClient, email: str = EMAIL, password: str = PASSWORD):  # type: ignore[no-untyped-def]
    token = csrf_of(client.get("/login").text)
    return client.post("/login", data={"email": email, "password": password, "csrf_token": token, "next": "/"},
                       follow_redirects=False)  # fmt: skip


class Browser:
    """A signed-in TestClient that adds the page's CSRF token to each form it posts."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.token = ""

    def get(self, url: str, **kw):  # type: ignore[no-untyped-def]
        r = self.client.get(url, **kw)
        if 'name="csrf_token"' in r.text:
            self.token = csrf_of(r.text)
        return r

    def post(self, url: str, data: dict | None = None, **kw):  # type: ignore[no-untyped-def,type-arg]
        if not self.token:
            self.get("/")
        return self.client.post(url, data={**(data or {}), "csrf_token": self.token}, **kw)


@pytest.fixture
def web(anon_client: TestClient, engine: Engine) -> Browser:
    make_user(engine)
    assert sign_in(anon_client).status_code == 303
    browser = Browser(anon_client)
    browser.get("/")
    return browser

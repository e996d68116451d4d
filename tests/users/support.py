"""Users of each role, each signed in with a client of their own on the same service."""

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from app.users import create_user
from tests.web.conftest import Browser, csrf_of

PASSWORD = "correct horse battery"


def make_user_of(engine: Engine, role: str, email: str | None = None) -> int:
    with Session(engine) as s:
        user = create_user(s, email or f"{role}@example.test", PASSWORD, role=role)  # type: ignore[arg-type]
        s.commit()
        return user.id  # type: ignore[return-value]


def signed_in(client: TestClient, email: str, password: str = PASSWORD) -> Browser:
    """A new client on the same service as `client`, signed in as `email`."""
    own = TestClient(client.app)
    token = csrf_of(own.get("/login").text)
    r = own.post("/login", data={"email": email, "password": password, "csrf_token": token, "next": "/"},
                 follow_redirects=False)  # fmt: skip
    assert r.status_code == 303 and r.headers["location"] == "/", r.text
    browser = Browser(own)
    browser.get("/")
    return browser

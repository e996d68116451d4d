"""/api/v1/sweeps and /api/v1/bounces."""

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from app.main import create_app
from app.models import Bounce, utcnow
from app.settings import Settings
from tests.bounces.support import NOREPLY, api_headers, dsn, mailbox_settings, seed_campaign
from tests.support.mailstack import MailStack


@pytest.mark.mailstack
def test_sweep_now_and_the_sweep_log(mail: MailStack, settings: Settings, engine: Engine, session: Session) -> None:
    sent = seed_campaign(session, settings, engine, ["gone@remote.test"])
    d = sent.by("gone@remote.test")
    mail.deliver(NOREPLY, dsn(f"noreply+{d.verp_token}@example.test", d.email, "5.1.1"))
    with TestClient(create_app(mailbox_settings(settings, mail)), headers=api_headers(engine)) as client:
        response = client.post("/api/v1/sweeps")
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["state"] == "done" and body["trigger"] == "api"
        assert (body["seen"], body["recorded"], body["deleted"], body["kept"], body["errors"]) == (1, 1, 1, 0, 0)
        assert body["per_kind"] == {"bounce": 1} and body["per_layer"] == {"verp": 1}
        log = client.get("/api/v1/sweeps").json()["items"]
        assert [s["id"] for s in log] == [body["id"]]
        bounces = client.get("/api/v1/bounces", params={"address": "GONE@remote.test"}).json()["items"]
        assert [(b["kind"], b["delivery_id"], b["attribution"], b["sweep_id"]) for b in bounces] == [
            ("bounce", d.id, "verp", body["id"])
        ]


@pytest.mark.mailstack
def test_a_failed_sweep_is_logged_without_the_password(mail: MailStack, settings: Settings, engine: Engine) -> None:
    app = create_app(mailbox_settings(settings, mail, mailbox_folder="Nope"))
    with TestClient(app, headers=api_headers(engine)) as client:
        body = client.post("/api/v1/sweeps").json()
    assert body["state"] == "failed" and "no such folder 'Nope'" in body["error"]
    assert mail.users[NOREPLY] not in str(body)


def test_bounce_filters(client: TestClient, engine: Engine, session: Session) -> None:
    client.headers.update(api_headers(engine))
    now = utcnow()
    rows = [
        Bounce(kind="bounce", reason="userunknown", hard=True, email="a@x.test", email_key="a@x.test", created_at=now),
        Bounce(
            kind="bounce",
            reason="mailboxfull",
            email="b@x.test",
            email_key="b@x.test",
            created_at=now - timedelta(days=3),
        ),
        Bounce(kind="complaint", reason="feedback", email="a@x.test", email_key="a@x.test", created_at=now),
    ]
    session.add_all(rows)
    session.commit()

    def emails(**params: str) -> list[tuple[str, str]]:
        response = client.get("/api/v1/bounces", params=params)
        assert response.status_code == 200, response.text
        return sorted((b["email"], b["kind"]) for b in response.json()["items"])

    assert emails(address="A@X.test") == [("a@x.test", "bounce"), ("a@x.test", "complaint")]
    assert emails(kind="bounce") == [("a@x.test", "bounce"), ("b@x.test", "bounce")]
    assert emails(reason="mailboxfull") == [("b@x.test", "bounce")]
    assert emails(since=(now - timedelta(days=1)).isoformat()) == [("a@x.test", "bounce"), ("a@x.test", "complaint")]
    assert emails(campaign="1") == []
    bad = client.get("/api/v1/bounces", params={"since": "yesterday"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["loc"] == ["query", "since"]

"""Invitations through the real relay: the mail arrives in a Dovecot mailbox, its link works once, and not
after it expires."""

import email
import email.policy
import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine, select, update
from sqlmodel import Session, col

from app.main import create_app
from app.models import AuditEntry, User, UserInvite, utcnow
from app.users.accounts import user_by_email
from tests.users.support import make_user_of, signed_in
from tests.web.conftest import csrf_of

pytestmark = pytest.mark.mailstack

NOREPLY = "noreply@example.test"
INVITEE = "alice@example.test"  # a real Dovecot mailbox of the test stack
NEW_PASSWORD = "a brand new password"


def _relay(settings, mail):  # type: ignore[no-untyped-def]
    return settings.model_copy(update={
        "smtp_host": mail.host, "smtp_port": mail.submission_port, "smtp_security": "starttls",
        "smtp_cafile": mail.cafile, "smtp_username": NOREPLY, "smtp_password": SecretStr(mail.users[NOREPLY]),
        "smtp_timeout": 10.0, "bounce_address": NOREPLY,
    })  # fmt: skip


def _link(raw: bytes) -> str:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert msg["Subject"] == "Your invitation to bulkmail" and msg["From"].addresses[0].addr_spec == NOREPLY
    body = msg.get_body(("plain",)).get_content()
    assert "as marketer" in body and "admin@example.test invites you" in body
    match = re.search(r"http://testserver(/invite/\S+)", body)
    assert match, body
    return match.group(1)


def _accept(client: TestClient, path: str, password: str = NEW_PASSWORD):  # type: ignore[no-untyped-def]
    page = client.get(path)
    assert page.status_code == 200, page.text
    return client.post(path, data={"password": password, "password_again": password, "csrf_token": csrf_of(page.text)},
                       follow_redirects=False)  # fmt: skip


def test_the_invitation_arrives_by_mail_and_its_link_works_once(mail, settings, engine: Engine) -> None:
    with TestClient(create_app(_relay(settings, mail))) as client:
        make_user_of(engine, "admin")
        admin = signed_in(client, "admin@example.test")
        r = admin.post("/users/invite", data={"email": INVITEE, "role": "marketer"})
        assert r.status_code == 200 and f"Invitation sent to {INVITEE}" in r.text
        [raw] = mail.wait_for_messages(INVITEE, 1, timeout=15)
        path = _link(raw)
        with Session(engine) as s:  # only the token's hash is kept
            assert path.rsplit("/", 1)[1] not in str(s.execute(select(UserInvite)).one())

        invitee = TestClient(client.app)
        page = invitee.get(path)
        assert INVITEE in page.text and "marketer" in page.text
        r = _accept(invitee, path)
        assert r.status_code == 303 and r.headers["location"] == "/"
        assert invitee.get("/lists").status_code == 200  # signed in, as a marketer
        assert invitee.get("/settings").status_code == 403
        with Session(engine) as s:
            user = user_by_email(s, INVITEE)
            assert user is not None and user.role == "marketer"

        again = TestClient(client.app)
        r = again.get(path)
        assert r.status_code == 410 and "used already" in r.text
        assert 'name="password"' not in r.text
        # a second try at the form (a page kept open) makes no second user
        r = again.post(
            path,
            data={"password": "x" * 12, "password_again": "x" * 12, "csrf_token": csrf_of(again.get("/login").text)},
        )
        assert r.status_code == 410
        assert signed_in(client, INVITEE, NEW_PASSWORD).get("/lists").status_code == 200
        audit = admin.get("/audit").text
        assert "users.invite" in audit and "invite" in audit
        with Session(engine) as s:  # the link's token is in no audit row
            rows = s.execute(select(AuditEntry)).scalars().all()
            assert [r.route for r in rows if r.action == "invite"] == ["POST /invite/{token}"]
            assert path.rsplit("/", 1)[1] not in " ".join(str(vars(r)) for r in rows)


def test_an_expired_or_unknown_link_is_refused(mail, settings, engine: Engine) -> None:
    with TestClient(create_app(_relay(settings, mail))) as client:
        make_user_of(engine, "admin")
        admin = signed_in(client, "admin@example.test")
        admin.post("/users/invite", data={"email": "bob@example.test", "role": "viewer"})
        [raw] = mail.wait_for_messages("bob@example.test", 1, timeout=15)
        path = re.search(r"http://testserver(/invite/\S+)", raw.decode()).group(1)  # type: ignore[union-attr]
        with Session(engine) as s:
            s.execute(update(UserInvite).values(expires_at=utcnow() - timedelta(seconds=1)))
            s.commit()
        visitor = TestClient(client.app)
        r = visitor.get(path)
        assert r.status_code == 410 and "expired" in r.text
        with Session(engine) as s:
            assert s.execute(select(User).where(col(User.email) == "bob@example.test")).first() is None
        r = visitor.get("/invite/not-a-token")
        assert r.status_code == 410 and "not known" in r.text


def test_bad_input_and_a_relay_that_refuses_are_named(mail, settings, engine: Engine) -> None:
    relay = _relay(settings, mail).model_copy(update={"smtp_password": SecretStr("wrong")})
    with TestClient(create_app(relay)) as client:
        make_user_of(engine, "admin")
        admin = signed_in(client, "admin@example.test")
        r = admin.post("/users/invite", data={"email": "not an address", "role": "marketer"})
        assert r.status_code == 400 and 'id="email-error"' in r.text
        r = admin.post("/users/invite", data={"email": "admin@example.test", "role": "marketer"})
        assert r.status_code == 400 and "already exists" in r.text
        r = admin.post("/users/invite", data={"email": INVITEE, "role": "owner"})
        assert r.status_code == 400 and "choose one of admin, marketer, viewer" in r.text
        r = admin.post("/users/invite", data={"email": INVITEE, "role": "marketer"})
        assert (
            r.status_code == 502
            and "no invitation sent" in r.text
            and "535" in r.text
            and "wrong" not in r.text.split("no invitation sent")[1][:300]
        )
        with Session(engine) as s:
            assert s.execute(select(UserInvite)).first() is None  # nothing kept of a mail that did not go


def test_an_invitation_in_german_mails_invites_and_makes_a_user_in_german(mail, settings, engine: Engine) -> None:
    with TestClient(create_app(_relay(settings, mail))) as client:
        make_user_of(engine, "admin")
        admin = signed_in(client, "admin@example.test")
        assert 'name="language"' in admin.get("/users").text
        refused = admin.post("/users/invite", data={"email": "bob@example.test", "role": "viewer", "language": "fr"})
        assert refused.status_code == 400 and "choose one of en, de" in refused.text
        sent = admin.post("/users/invite", data={"email": "bob@example.test", "role": "viewer", "language": "de"})
        assert sent.status_code == 200, sent.text
        [raw] = mail.wait_for_messages("bob@example.test", 1, timeout=15)
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        body = msg.get_body(("plain",)).get_content()
        assert msg["Subject"] == "Ihre Einladung zu bulkmail"
        assert body.startswith("admin@example.test lädt Sie als Betrachter zu bulkmail ein."), body
        assert re.search(r"bis \d\d\.\d\d\.\d{4} \d\d:\d\d UTC", body), body
        path = re.search(r"http://testserver(/invite/\S+)", body)
        assert path

        invitee = TestClient(client.app)  # a browser that asks for English: the invitation speaks German
        invitee.headers["Accept-Language"] = "en"
        assert "Sie sind als <strong>Betrachter</strong> eingeladen" in invitee.get(path.group(1)).text
        assert _accept(invitee, path.group(1)).status_code == 303
        assert "Abmelden" in invitee.get("/lists").text  # the new user's pages speak it too
        with Session(engine) as s:
            user = user_by_email(s, "bob@example.test")
            assert user is not None and user.language == "de"

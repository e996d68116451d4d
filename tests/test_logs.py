"""Structured logs: JSON lines with the ids of what each line is about, text on a terminal, and never a secret,
not even in the traceback of a failed relay login."""

import io
import json
import logging
import smtplib

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine
from sqlmodel import Session

from app.bounces.sweep import run_sweep
from app.logs import bound, chosen_format, configure, keep_out
from app.main import create_app
from app.models import Campaign, SendingIdentity
from app.sealed import new_seal_key, unseal
from app.settings import Settings
from tests.conftest import make_api_key
from tests.sending.conftest import campaign_state, run_worker_until
from tests.support.mailstack import MailStack
from tests.web.conftest import PASSWORD, Browser, make_user, sign_in

NOREPLY = "noreply@example.test"
WRONG_SMTP_PASSWORD = "wrong-smtp-pw-4711"
MAILBOX_PASSWORD = "mailbox-pw-0815-not-dovecots"
SECRET_KEY = "token-key-8d1f3a"
METRICS_TOKEN = "metrics-token-55e0"


def _lines(stream: io.StringIO) -> list[dict]:  # type: ignore[type-arg]
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


@pytest.mark.mailstack
def test_a_campaign_a_sweep_and_a_settings_save_log_no_secret(
    settings: Settings, engine: Engine, mail: MailStack, captured: io.StringIO
) -> None:
    s = settings.model_copy(
        update={"secret_key": SecretStr(SECRET_KEY), "seal_key": SecretStr(new_seal_key()),
                "metrics_token": SecretStr(METRICS_TOKEN), "worker_poll_seconds": 0.05, "smtp_timeout": 10.0}
    )  # fmt: skip
    make_user(engine)
    with TestClient(create_app(s)) as client:
        assert sign_in(client).status_code == 303
        web = Browser(client)
        relay = {"smtp_host": mail.host, "smtp_port": str(mail.submission_port), "smtp_security": "starttls",
                 "smtp_cafile": mail.cafile, "smtp_username": NOREPLY, "bounce_address": NOREPLY}  # fmt: skip
        mailbox = {"mailbox_protocol": "imap", "mailbox_host": mail.host, "mailbox_port": str(mail.imaps_port),
                   "mailbox_security": "tls", "mailbox_cafile": mail.cafile, "mailbox_user": NOREPLY,
                   "mailbox_password": MAILBOX_PASSWORD}  # fmt: skip
        saved = web.post("/settings", {**relay, **mailbox, "smtp_password": WRONG_SMTP_PASSWORD, "action": "save"})
        assert saved.status_code == 200, saved.text

        api_key = make_api_key(engine)
        client.headers["Authorization"] = f"Bearer {api_key}"
        identity = client.post("/api/v1/identities", json={"name": "News", "from_domain": "example.test",
                                                           "bounce_address": NOREPLY})  # fmt: skip
        assert identity.status_code == 201, identity.text
        assert identity.headers["X-Request-ID"]
        list_id = client.post("/api/v1/lists", json={"name": "Members"}).json()["id"]
        people = [
            {"external_id": "a", "email": "alice@example.test"},
            {"external_id": "b", "email": "bob@example.test"},
        ]
        client.post("/api/v1/contacts/bulk", json={"list_id": list_id, "contacts": people})
        cid = client.post("/api/v1/campaigns", json={"name": "Hello", "from_address": NOREPLY, "subject": "Hi",
                                                     "text_template": "Hello", "list_ids": [list_id],
                                                     "identity_id": identity.json()["id"]}).json()["id"]  # fmt: skip
        assert client.post(f"/api/v1/campaigns/{cid}/launch").json()["state"] == "sending"
        # the relay refuses the saved password (535): the campaign pauses
        run_worker_until(s, engine, lambda: campaign_state(engine, cid) == "paused")
        web.post("/settings", {**relay, "smtp_password": mail.users[NOREPLY], "action": "save"})
        assert client.post(f"/api/v1/campaigns/{cid}/resume").status_code == 200
        run_worker_until(s, engine, lambda: campaign_state(engine, cid) == "completed")
        client.headers["Authorization"] = f"Bearer {METRICS_TOKEN}"
        assert client.get("/metrics").status_code == 200
    swept = run_sweep(s, engine, trigger="cli")  # Dovecot refuses the mailbox password
    assert swept is not None and swept.state == "failed"
    # and an exception whose text carries the password, as a relay library might word it
    try:
        raise smtplib.SMTPAuthenticationError(535, f"AUTH PLAIN as {NOREPLY} with {WRONG_SMTP_PASSWORD}".encode())
    except smtplib.SMTPException:
        logging.getLogger("app.sending.relay").exception("relay login failed")

    with Session(engine) as session:
        sealed = session.get(SendingIdentity, identity.json()["id"]).dkim_private_key_sealed  # type: ignore[union-attr]
        paused = session.get(Campaign, cid)
    dkim_key = unseal(s, sealed)
    text = captured.getvalue()
    secrets = [WRONG_SMTP_PASSWORD, mail.users[NOREPLY], MAILBOX_PASSWORD, api_key, SECRET_KEY, METRICS_TOKEN,
               PASSWORD, s.seal_key.get_secret_value(), dkim_key, dkim_key.splitlines()[1]]  # type: ignore[union-attr]  # fmt: skip
    assert [secret for secret in secrets if secret in text] == []
    lines = _lines(captured)  # every line is JSON
    assert paused is not None
    assert any(line.get("campaign_id") == cid and "535" in line["message"] for line in lines)
    assert any(line.get("sweep_id") == swept.id and line["level"] == "warning" for line in lines)
    [failed_login] = [line for line in lines if line["message"] == "relay login failed"]
    assert "SMTPAuthenticationError" in failed_login["exc"] and "***" in failed_login["exc"]


def test_ids_bound_in_a_block_are_on_its_lines_and_gone_after(captured: io.StringIO) -> None:
    log = logging.getLogger("app.test")
    with bound(campaign_id=7), bound(delivery_id=70):
        log.info("sending")
    log.info("idle")
    sending, idle = _lines(captured)
    assert (sending["campaign_id"], sending["delivery_id"], sending["message"]) == (7, 70, "sending")
    assert "campaign_id" not in idle and idle["level"] == "info" and idle["logger"] == "app.test"


def test_text_on_a_terminal_json_elsewhere_unless_chosen() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert chosen_format("auto", Terminal()) == "text"
    assert chosen_format("auto", io.StringIO()) == "json"
    assert chosen_format("json", Terminal()) == "json" and chosen_format("text", io.StringIO()) == "text"
    stream = Terminal()
    configure(Settings(_env_file=None), stream=stream)
    try:
        keep_out("pw-in-a-text-line")
        with bound(sweep_id=3):
            logging.getLogger("app.bounces").warning("login with pw-in-a-text-line refused")
    finally:
        logging.getLogger().handlers.clear()
    assert stream.getvalue().rstrip().endswith("app.bounces: login with *** refused [sweep=3]")

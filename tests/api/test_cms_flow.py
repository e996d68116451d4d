"""A CMS's whole integration over HTTP only: push 1,000 website users, make a list, create and launch a
campaign through the real relay, poll its progress to completion, sweep, and get the bounce webhooks."""

import time

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine

from app.main import create_app
from app.settings import Settings
from app.webhooks.signing import verify
from tests.conftest import make_api_key
from tests.support.mailstack import MailStack
from tests.support.polling import wait_for
from tests.support.receiver import Receiver

pytestmark = pytest.mark.mailstack

API = "/api/v1"
NOREPLY = "noreply@example.test"
REAL = ["alice@example.test", "bob@example.test", "carol@example.test", "dave@example.test"]
UNKNOWN = [f"gone{i}@example.test" for i in range(3)]  # no such mailbox: Postfix returns a DSN each


def _service(settings: Settings, mail: MailStack) -> Settings:
    """The relay and the bounce mailbox of the test stack; the worker and the scheduler run in-process."""
    return settings.model_copy(update={
        "smtp_host": mail.host, "smtp_port": mail.submission_port, "smtp_security": "starttls",
        "smtp_cafile": mail.cafile, "smtp_username": NOREPLY, "smtp_password": SecretStr(mail.users[NOREPLY]),
        "smtp_timeout": 10.0, "worker_poll_seconds": 0.05,
        "mailbox_protocol": "imap", "mailbox_host": mail.host, "mailbox_port": mail.imap_port,
        "mailbox_security": "starttls", "mailbox_user": NOREPLY, "mailbox_password": SecretStr(mail.users[NOREPLY]),
        "mailbox_cafile": mail.cafile,
        "embedded_worker": True, "scheduler": True, "webhook_poll_seconds": 0.2, "sweep_interval_minutes": 600,
        "webhook_allowed_networks": ["127.0.0.1/32"],  # the CMS's receiver, on this machine
    })  # fmt: skip


def test_cms_flow_end_to_end(mail: MailStack, settings: Settings, engine: Engine) -> None:
    receiver = Receiver()
    headers = {"Authorization": f"Bearer {make_api_key(engine)}"}
    with TestClient(create_app(_service(settings, mail)), headers=headers) as api:
        hook = api.post(f"{API}/webhooks", json={"url": receiver.url, "events": ["bounce", "campaign.completed"]})
        assert hook.status_code == 201
        secret = hook.json()["secret"]

        users = [{"external_id": f"u{i}", "email": f"user{i}@cms.test", "first_name": f"User{i}"} for i in range(1000)]
        pushed = api.post(f"{API}/contacts/bulk", json={"contacts": users}, headers={"Idempotency-Key": "push-1"})
        assert pushed.status_code == 200 and pushed.json()["added"] == 1000
        newsletter = api.post(f"{API}/lists", json={"name": "Newsletter"}).json()["id"]
        subscribers = [{"external_id": f"s{i}", "email": a, "first_name": a.split("@")[0].title()}
                       for i, a in enumerate(REAL + UNKNOWN)]  # fmt: skip
        joined = api.post(f"{API}/contacts/bulk", json={"list_id": newsletter, "contacts": subscribers}).json()
        assert joined["added"] == len(REAL + UNKNOWN)

        campaign = api.post(f"{API}/campaigns", headers={"Idempotency-Key": "spring"}, json={
            "name": "Spring", "from_address": NOREPLY, "subject": "Hi {{ first_name }}",
            "text_template": "Hello {{ first_name }}", "list_ids": [newsletter],
        })  # fmt: skip
        assert campaign.status_code == 201
        cid = campaign.json()["id"]
        assert api.post(f"{API}/campaigns/{cid}/launch", headers={"Idempotency-Key": "go"}).json()["state"] == "sending"
        assert api.post(f"{API}/campaigns/{cid}/launch", headers={"Idempotency-Key": "go"}).status_code == 200

        done = wait_for(lambda: (c := api.get(f"{API}/campaigns/{cid}").json())["state"] == "completed" and c,
                     60, "the campaign to complete")  # fmt: skip
        assert done["progress"]["counts"]["sent"] == len(REAL + UNKNOWN) and done["progress"]["percent"] == 100.0
        for address in REAL:
            assert mail.wait_for_messages(address, 1, timeout=20)

        mail.wait_for_messages(NOREPLY, len(UNKNOWN), timeout=60)  # the DSNs are in the bounce mailbox
        sweep = api.post(f"{API}/sweeps")
        assert sweep.status_code == 201 and sweep.json()["per_kind"].get("bounce") == len(UNKNOWN), sweep.text

        got = wait_for(lambda: len(receiver.received) >= 1 + len(UNKNOWN) and receiver.received, 30, "the webhooks")
        for r in got:
            assert verify(secret, r.headers["x-bulkmail-signature"], r.body, int(time.time()))
        bounced = sorted(r.json["data"]["email"] for r in got if r.json["type"] == "bounce")
        assert bounced == sorted(UNKNOWN)
        assert all(
            r.json["data"]["campaign_id"] == cid and r.json["data"]["hard"] for r in got if r.json["type"] == "bounce"
        )
        [completed] = [r.json for r in got if r.json["type"] == "campaign.completed"]
        assert completed["data"]["campaign_id"] == cid
        bounces = api.get(f"{API}/bounces", params={"campaign": cid, "kind": "bounce"}).json()["items"]
        assert sorted(b["email"] for b in bounces) == sorted(UNKNOWN)
    receiver.stop()

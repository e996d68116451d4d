"""/metrics of a real `bulkmail serve` while a campaign goes through the real relay: the counts its background
process (another process) adds are in the web process's answer."""

import json
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from app.settings import Settings
from tests.conftest import make_api_key
from tests.metrics.support import samples, value
from tests.support.mailstack import MailStack
from tests.support.polling import wait_for
from tests.support.serve import NOREPLY, relay_env, serving

pytestmark = pytest.mark.mailstack

DELIVERED = ["alice@example.test", "bob@example.test", "carol@example.test"]
REFUSED, LATER = "nobody@refused.test", "someone@later.test"


def test_a_scrape_during_a_real_campaign_sees_the_counts_move(
    settings: Settings, engine: Engine, mail: MailStack, tmp_path: Path
) -> None:
    mail.answer_recipients({"refused.test": "550 5.1.1 No such user", "later.test": "450 4.2.1 Mailbox busy"})
    env = {**relay_env(settings, mail, tmp_path), "BULKMAIL_PACING": "false", "BULKMAIL_LOG_FORMAT": "json"}
    log = tmp_path / "serve.log"
    with serving(env, tmp_path, log=log) as (_, base):
        scrape = httpx.Client(base_url=base, timeout=10)
        before = scrape.get("/metrics")
        assert before.status_code == 200  # from this machine, no token set
        assert value(before.text, "bulkmail_messages_total") == 0
        # through a proxy: refused, though the proxy itself connects from this machine
        assert scrape.get("/metrics", headers={"X-Forwarded-For": "198.51.100.4"}).status_code == 403

        api_key = make_api_key(engine)
        headers = {"Authorization": f"Bearer {api_key}"}
        with httpx.Client(base_url=f"{base}/api/v1", headers=headers, timeout=10) as api:
            people = [{"external_id": a, "email": a} for a in [*DELIVERED, REFUSED, LATER]]
            list_id = api.post("/lists", json={"name": "Members"}).json()["id"]
            assert api.post("/contacts/bulk", json={"list_id": list_id, "contacts": people}).status_code == 200
            cid = api.post("/campaigns", json={"name": "Hello", "from_address": NOREPLY, "subject": "Hi",
                                               "text_template": "Hello", "list_ids": [list_id]}).json()["id"]  # fmt: skip
            assert api.post(f"/campaigns/{cid}/launch").json()["state"] == "sending"

        def settled() -> str | None:
            text = scrape.get("/metrics").text
            done = value(text, "bulkmail_messages_total", outcome="deferred") == 1
            return text if done and value(text, "bulkmail_messages_total", outcome="sent") == len(DELIVERED) else None

        text = wait_for(settled, 60, "the campaign's counts at /metrics")
    relay = {"relay": "settings", "provider": "other"}
    assert value(text, "bulkmail_messages_total", outcome="sent", **relay) == 3
    assert value(text, "bulkmail_messages_total", outcome="failed", **relay) == 1
    assert value(text, "bulkmail_relay_replies_total", relay="settings", **{"class": "2xx"}) == 3
    assert value(text, "bulkmail_relay_replies_total", relay="settings", **{"class": "4xx"}) == 1
    assert value(text, "bulkmail_relay_replies_total", relay="settings", **{"class": "5xx"}) == 1
    # the deferred row waits for its retry: in the queue, not due yet
    assert value(text, "bulkmail_queue_depth", state="deferred") == 1
    assert value(text, "bulkmail_queue_depth", state="queued") == 0
    assert value(text, "bulkmail_queue_oldest_due_age_seconds") == 0
    assert value(text, "bulkmail_workers_alive") == 1
    [beat] = [v for (name, _), v in samples(text).items() if name == "bulkmail_worker_last_heartbeat_timestamp_seconds"]
    assert beat > 0
    assert value(text, "bulkmail_messages_out", window="24h") == 4  # sent, and refused at once
    assert value(text, "bulkmail_hard_bounce_ratio", window="24h") == 0.25
    launch = "/api/v1/campaigns/{campaign_id}/launch"
    assert value(text, "bulkmail_http_request_duration_seconds_count", route=launch, method="POST") == 1

    # the server's and its background process's lines: JSON, the requests' with their ids, no secret
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    assert lines and all(line.keys() >= {"ts", "level", "logger", "message"} for line in lines)
    assert any(line["logger"] == "uvicorn.access" and "/metrics" in line["message"] and line.get("request_id")
               for line in lines)  # fmt: skip
    text = log.read_text()
    assert mail.users[NOREPLY] not in text and api_key not in text and "serve-test" not in text

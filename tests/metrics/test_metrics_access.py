"""Who may read /metrics, and what the scraped process measures itself (request latency by route template)."""

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine

from app.main import create_app
from app.settings import Settings
from tests.conftest import make_api_key
from tests.metrics.support import samples, value

LOOPBACK = ("127.0.0.1", 40000)


def test_with_a_token_set_only_a_request_bearing_it_is_answered(settings: Settings, engine: Engine) -> None:
    guarded = settings.model_copy(update={"metrics_token": SecretStr("scrape-me-7")})
    with TestClient(create_app(guarded), client=LOOPBACK) as c:
        assert c.get("/metrics").status_code == 401  # on this machine too
        assert c.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
        ok = c.get("/metrics", headers={"Authorization": "Bearer scrape-me-7"})
    assert ok.status_code == 200 and ok.headers["content-type"].startswith("text/plain")
    assert value(ok.text, "bulkmail_queue_depth", state="queued") == 0
    assert ("bulkmail_workers_alive", ()) in samples(ok.text)


@pytest.mark.parametrize(
    "client, headers, status",
    [
        (LOOPBACK, {}, 200),
        (("::1", 40000), {}, 200),
        (("192.0.2.7", 40000), {}, 403),
        # through a proxy on this machine: the request comes from elsewhere, whatever the socket says
        (LOOPBACK, {"X-Forwarded-For": "203.0.113.9"}, 403),
        (LOOPBACK, {"X-Forwarded-For": "127.0.0.1"}, 403),
        (LOOPBACK, {"Forwarded": "for=127.0.0.1"}, 403),
    ],
)
def test_without_a_token_only_this_machine_is_answered(settings, engine, client, headers, status) -> None:  # type: ignore[no-untyped-def]
    with TestClient(create_app(settings), client=client) as c:
        assert c.get("/metrics", headers=headers).status_code == status


def test_request_latency_is_labelled_with_the_route_template(settings: Settings, engine: Engine) -> None:
    with TestClient(create_app(settings), client=LOOPBACK) as c:
        c.headers["Authorization"] = f"Bearer {make_api_key(engine)}"
        for campaign_id in (101, 102, 103):
            assert c.get(f"/api/v1/campaigns/{campaign_id}").status_code == 404
        assert c.get("/no/such/page").status_code == 404
        assert c.get("/healthz").status_code == 200
        text = c.get("/metrics").text
    name = "bulkmail_http_request_duration_seconds_count"
    assert value(text, name, route="/api/v1/campaigns/{campaign_id}", method="GET", status="4xx") == 3
    assert value(text, name, route="/healthz", status="2xx") == 1
    assert value(text, name, route="unmatched") == 1
    assert not any("101" in v for (n, pairs), _ in samples(text).items() for _, v in pairs)


def test_a_sweep_is_counted_with_its_state_and_duration(settings: Settings, engine: Engine) -> None:
    from app.bounces.sweep import run_sweep
    from tests.support.network import free_port

    nowhere = settings.model_copy(
        update={
            "mailbox_host": "127.0.0.1",
            "mailbox_port": free_port(),
            "mailbox_security": "none",
            "mailbox_user": "noreply",
            "mailbox_password": SecretStr("pw"),
        }  # fmt: skip
    )
    with TestClient(create_app(settings), client=LOOPBACK) as c:
        assert value(c.get("/metrics").text, "bulkmail_sweeps_total") == 0
        swept = run_sweep(nowhere, engine, trigger="cli")
        assert swept is not None and swept.state == "failed"
        text = c.get("/metrics").text
    assert value(text, "bulkmail_sweeps_total", state="failed") == 1
    assert value(text, "bulkmail_sweep_duration_seconds_count") == 1
    assert value(text, "bulkmail_last_sweep_timestamp_seconds") == pytest.approx(swept.finished_at.timestamp())  # type: ignore[union-attr]

"""Hostile templates against a real `bulkmail serve`: the check on save stops at the render limits
with a 422 naming the template and the limit, while the service keeps answering, holds no database
lock, keeps its memory and still stops on SIGTERM."""

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from app.settings import Settings
from tests.conftest import make_api_key
from tests.support.serve import serving

NESTED = "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}"
SILENT = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


@pytest.fixture
def served(settings: Settings, engine: Engine, tmp_path: Path) -> Iterator[tuple[subprocess.Popen, httpx.Client]]:  # type: ignore[type-arg]
    env = {**os.environ, "BULKMAIL_DATABASE_URL": settings.database_url, "BULKMAIL_SECRET_KEY": "render-test",
           "BULKMAIL_UPLOAD_DIR": str(tmp_path), "BULKMAIL_EMBEDDED_WORKER": "false", "BULKMAIL_SCHEDULER": "false"}  # fmt: skip
    headers = {"Authorization": f"Bearer {make_api_key(engine)}"}
    with (
        serving(env, tmp_path) as (proc, base),
        httpx.Client(base_url=f"{base}/api/v1", headers=headers, timeout=30) as api,
    ):
        yield proc, api


def _campaign(list_id: int, **templates: str) -> dict:  # type: ignore[type-arg]
    body = {"name": "Hostile", "from_address": "news@example.test", "subject": "Hi",
            "text_template": "Hello", "list_ids": [list_id]}  # fmt: skip
    return {**body, **templates}


def test_a_runaway_template_gets_a_422_while_the_service_answers_and_writes_go_through(
    served: tuple[subprocess.Popen, httpx.Client],  # type: ignore[type-arg]
) -> None:
    proc, api = served
    list_id = api.post("/lists", json={"name": "Members"}).json()["id"]
    api.post("/contacts/bulk", json={"list_id": list_id, "contacts": [{"external_id": "a", "email": "a@example.test"}]})

    health: list[float] = []
    writes: list[float] = []
    rss: list[float] = []
    done = threading.Event()

    def watch() -> None:
        # /healthz, a write (on SQLite it needs the write lock) and the server's memory while the check runs
        with httpx.Client(base_url=str(api.base_url), headers=api.headers, timeout=30) as other:
            n = 0
            while not done.is_set():
                t0 = time.monotonic()
                other.get(f"{str(api.base_url).removesuffix('/api/v1')}/healthz")
                health.append(time.monotonic() - t0)
                t0 = time.monotonic()
                assert other.post("/lists", json={"name": f"during {n}"}).status_code == 201
                writes.append(time.monotonic() - t0)
                rss.append(_rss_mb(proc.pid))
                n += 1
                time.sleep(0.1)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    t0 = time.monotonic()
    try:
        resp = api.post("/campaigns", json=_campaign(list_id, html_template=NESTED), timeout=20)
    except httpx.TimeoutException:
        pytest.fail("the check on save did not answer within 20 s")
    finally:
        took = time.monotonic() - t0
        done.set()
        watcher.join(30)

    assert resp.status_code == 422, resp.text
    [error] = resp.json()["errors"]
    assert error["loc"] == ["body", "html_template"]
    assert "larger than 2 MB" in error["msg"] and "line 1" in error["msg"], error["msg"]
    assert took < 5, f"the 422 took {took:.1f} s"
    assert health and max(health) < 1.0, f"/healthz took up to {max(health):.2f} s"
    assert writes and max(writes) < 1.0, f"a write waited {max(writes):.2f} s for the database"
    assert max(rss) < 500, f"the server grew to {max(rss):.0f} MB"
    # and it still stops on SIGTERM
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(15) == 0


@pytest.mark.parametrize(
    ("field", "template", "says"),
    [
        ("html_template", SILENT, "took longer than 2 s"),  # no output: only the clock can stop it
        ("subject", "{{ 'x' * 10**10 }}", "larger than 2 MB"),  # one allocation of 10 GB
        ("text_template", "{% set s = 'x' * 1000000 %}{{ s|replace('x', s) }}", "larger than 2 MB"),  # 1 TB
        ("text_template", "{% for i in range(10**10) %}{% endfor %}", "range"),
    ],
    ids=["silent-loop", "repetition", "replace", "huge-range"],
)
def test_hostile_templates_are_refused_quickly_naming_template_and_limit(
    served: tuple[subprocess.Popen, httpx.Client],  # type: ignore[type-arg]
    field: str,
    template: str,
    says: str,
) -> None:
    proc, api = served
    list_id = api.post("/lists", json={"name": "Members"}).json()["id"]
    t0 = time.monotonic()
    try:
        resp = api.post("/campaigns", json=_campaign(list_id, **{field: template}), timeout=15)
    except httpx.TimeoutException:
        pytest.fail("the check on save did not answer within 15 s")
    took = time.monotonic() - t0
    assert resp.status_code == 422, resp.text
    [error] = resp.json()["errors"]
    assert error["loc"] == ["body", field] and says in error["msg"], error["msg"]
    assert "Error" not in error["msg"], f"raw exception text: {error['msg']}"
    assert took < 8, f"the 422 took {took:.1f} s"
    assert _rss_mb(proc.pid) < 500


def test_sigterm_during_a_runaway_render_stops_the_server(
    served: tuple[subprocess.Popen, httpx.Client],  # type: ignore[type-arg]
) -> None:
    proc, api = served
    list_id = api.post("/lists", json={"name": "Members"}).json()["id"]

    def post() -> None:
        with contextlib.suppress(httpx.HTTPError):  # the server may go away mid-request
            api.post("/campaigns", json=_campaign(list_id, html_template=SILENT), timeout=30)

    client = threading.Thread(target=post, daemon=True)
    client.start()
    time.sleep(0.7)  # the check is rendering now
    proc.send_signal(signal.SIGTERM)
    try:
        code = proc.wait(10)
    except subprocess.TimeoutExpired:
        pytest.fail("bulkmail serve ignored SIGTERM while a template rendered")
    assert code == 0
    client.join(10)

"""Transactional latency: from POST /api/v1/messages to the relay's acceptance, while a 100,000-recipient campaign
sends through the same relay (Postfix's smtp-sink, as the sending benchmarks use).

    python bench/transactional/run.py [--recipients 100000] [--messages 300] [--only sqlite,pg]

Per backend: a fresh database with the audience, `bulkmail serve` (the web server, and its background process
with the sending worker and nothing else, at its lower CPU priority, as shipped) and the campaign launched; once
the worker has sent a few thousand of it, one client sends MESSAGES requests one after another (each with an
Idempotency-Key, 20 ms apart), each timed until its answer, which comes after the relay took the message (state
`sent`). A message the request had to leave to the workers (state `queued`) is timed until GET shows it sent.
Reports p50/p95/p99 and the largest, how many went the request's own way, and the campaign's messages sent during
the measurement (it must still be sending when the last request ends); beside them p50/p99 of the same requests to
the same server just before the launch (what the machine's load alone costs, measured side by side).

PostgreSQL at BULKMAIL_BENCH_POSTGRES_URL (default postgresql+psycopg://postgres@127.0.0.1:5432/txsend_bench,
made afresh and dropped after)."""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench" / "sending"))

from sqlalchemy import text  # noqa: E402
from sqlmodel import Session  # noqa: E402

import templates  # noqa: E402
from app.apikeys import create_api_key  # noqa: E402
from app.db import make_engine  # noqa: E402
from app.models import Campaign, utcnow  # noqa: E402
from app.sending import campaigns as service  # noqa: E402
from app.settings import Settings  # noqa: E402
from bench.sending.run import audience, fresh_database, worker_env  # noqa: E402
from tests.support.mailstack import smtp_sink  # noqa: E402
from tests.support.network import free_port  # noqa: E402

PG_URL = os.environ.get("BULKMAIL_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/txsend_bench")
WARM_SENT = 3000  # campaign messages out before the measurement starts
GAP_SECONDS = 0.02


def sent_count(engine, campaign_id: int) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return int(
            conn.execute(
                text("SELECT count(*) FROM delivery WHERE campaign_id = :c AND state = 'sent'"), {"c": campaign_id}
            ).scalar_one()
        )


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def measure(client: httpx.Client, messages: int, tag: str) -> tuple[list[float], int]:
    """Send MESSAGES one after another; each one's seconds from request to the relay's acceptance, and how many
    the request sent itself."""
    latencies, express = [], 0
    for i in range(messages):
        body = {"to": f"tx{i}@sink.test", "subject": "Your code {{ code }}", "text": "Code: {{ code }}\n",
                "html": "<p>Code: <b>{{ code }}</b></p>", "data": {"code": 100000 + i}}  # fmt: skip
        t0 = time.perf_counter()
        answer = client.post("/api/v1/messages", json=body, headers={"Idempotency-Key": f"bench-{tag}-{i}"})
        assert answer.status_code == 201, answer.text
        state = answer.json()["state"]
        if state == "sent":
            express += 1
        else:
            while state != "sent":
                time.sleep(0.005)
                state = client.get(f"/api/v1/messages/{answer.json()['id']}").json()["state"]
        latencies.append(time.perf_counter() - t0)
        time.sleep(GAP_SECONDS)
    return latencies, express


def run(kind: str, relay_port: int, n: int, messages: int, workdir: Path) -> dict[str, float]:
    url = fresh_database(kind, workdir, PG_URL)
    audience(url, n)
    engine = make_engine(url)
    with Session(engine) as session:
        _, key = create_api_key(session, "bench", "write")
        session.commit()
    port = free_port()
    env = worker_env(url, relay_port, workdir) | {"BULKMAIL_LOG_FORMAT": "json"}
    log = (workdir / f"{kind}-serve.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "app", "serve", "--port", str(port)], env=env, cwd=workdir,
                            stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        client = httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {key}"})
        deadline = time.monotonic() + 60
        while True:
            try:
                if client.get("/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"serve did not answer; see {workdir}")
            time.sleep(0.2)
        idle, _ = measure(client, messages, "idle")  # the same server before the campaign: the machine alone
        settings = Settings(_env_file=None, database_url=url, secret_key="bench-secret")
        with Session(engine) as session:
            campaign = Campaign(name="bench", from_name="Shop", from_address="news@example.test", subject=templates.SUBJECT,
                                html_template=templates.HTML, text_template=templates.TEXT, list_ids=[1])  # fmt: skip
            session.add(campaign)
            session.commit()
            service.launch(session, campaign, settings, utcnow())
            session.commit()
            campaign_id = campaign.id
        assert campaign_id is not None
        while sent_count(engine, campaign_id) < WARM_SENT:
            time.sleep(0.2)
        before = sent_count(engine, campaign_id)
        started = time.perf_counter()
        latencies, express = measure(client, messages, "busy")
        seconds = time.perf_counter() - started
        during = sent_count(engine, campaign_id) - before
        with Session(engine) as session:
            still = session.get(Campaign, campaign_id).state  # type: ignore[union-attr]
        assert still == "sending", f"the campaign was {still} before the measurement ended"
    finally:
        proc.terminate()
        proc.wait(60)
        engine.dispose()
    ms = [x * 1000 for x in latencies]
    alone = [x * 1000 for x in idle]
    return {"p50": percentile(ms, 50), "p95": percentile(ms, 95), "p99": percentile(ms, 99), "max": max(ms),
            "mean": statistics.fmean(ms), "express": express, "messages": messages,
            "campaign_rate": during / seconds, "idle_p50": percentile(alone, 50), "idle_p99": percentile(alone, 99)}  # fmt: skip


def drop_pg() -> None:
    admin = make_engine(PG_URL.rsplit("/", 1)[0] + "/postgres")
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{PG_URL.rsplit("/", 1)[1]}" WITH (FORCE)'))
    admin.dispose()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--recipients", type=int, default=100_000)
    ap.add_argument("--messages", type=int, default=300)
    ap.add_argument("--only", default="sqlite,pg")
    args = ap.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bulkmail-txbench-"))
    relay_port = free_port()
    print(f"load before: {os.getloadavg()}", flush=True)
    with smtp_sink(relay_port, 1024):
        for kind, key in (("sqlite", "sqlite"), ("postgresql", "pg")):
            if key not in args.only.split(","):
                continue
            r = run(kind, relay_port, args.recipients, args.messages, workdir)
            print(f"{kind}: p50 {r['p50']:.1f} ms, p95 {r['p95']:.1f} ms, p99 {r['p99']:.1f} ms, max {r['max']:.1f} ms;"
                  f" {r['express']}/{r['messages']} sent by the request itself; the campaign meanwhile "
                  f"{r['campaign_rate']:.0f} msg/s; before the campaign, same server: p50 {r['idle_p50']:.1f} ms,"
                  f" p99 {r['idle_p99']:.1f} ms; "
                  f"load {os.getloadavg()[0]:.2f}", flush=True)  # fmt: skip
            if kind == "postgresql":
                drop_pg()


if __name__ == "__main__":
    main()

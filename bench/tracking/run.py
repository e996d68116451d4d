"""A burst of opens and clicks against `bulkmail serve`: wrk fetches signed pixel and click URLs of a
campaign of DELIVERIES messages (each request a random message and link, shuffled) for SECONDS, then the
service is stopped the way a user stops it (SIGTERM) and the hits stored are counted against the
responses wrk received; then the hits are settled (the machine rules and the hourly counts) and timed.

    .venv/bin/python -m bench.tracking.run [--backends sqlite,postgresql] [--seconds 10] [--connections 64]
        [--pg-name bulkmail_bench_tracking]

PostgreSQL: the scratch database `bulkmail_bench_tracking` (or --pg-name) beside BULKMAIL_BENCH_POSTGRES_URL's."""

import argparse
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine, text
from sqlmodel import Session

from app.db import insert_rows, make_engine
from app.migrate import upgrade
from app.models import Campaign, CampaignLink, utcnow
from app.settings import Settings
from app.tracking import settle, tokens
from bench.audience.run import fresh_database
from bench.cpu import process_cpu
from tests.support.network import free_port

SECRET = "bench-secret-key"
LINKS = 5


def populate(engine: Engine, deliveries: int) -> int:
    now = utcnow()
    with Session(engine) as s:
        c = Campaign(name="burst", from_address="news@example.test", subject="s", state="completed", tracking="contact",
                     launched_at=now - timedelta(hours=2), completed_at=now - timedelta(hours=1))  # fmt: skip
        s.add(c)
        s.flush()
        assert c.id is not None
        insert_rows(s, CampaignLink, [{"campaign_id": c.id, "position": i, "url": f"https://shop.example/{i}"}
                                      for i in range(1, LINKS + 1)])  # fmt: skip
        s.commit()
        campaign_id = c.id
    addresses = [f"p{i}@example{i % 50}.test" for i in range(deliveries)]
    random.shuffle(addresses)
    with Session(engine) as s:
        insert_rows(s, _delivery_table(), [
            {"campaign_id": campaign_id, "email": a, "email_key": a, "state": "sent", "attempts": 1,
             "sent_at": now - timedelta(hours=1)} for a in addresses])  # fmt: skip
        s.commit()
    return campaign_id


def _delivery_table():  # type: ignore[no-untyped-def]
    from app.models import Delivery

    return Delivery


def lua_script(path: Path, campaign_id: int, delivery_ids: list[int], count: int) -> None:
    secret = SECRET.encode()
    paths = []
    for _ in range(count):
        d, link = random.choice(delivery_ids), random.randrange(0, LINKS + 1)
        paths.append(f"/t/{'o' if link == 0 else 'c'}/{tokens.make(secret, campaign_id, d, link)}")
    agents = ["Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
              "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile",
              "Mozilla/5.0", "Barracuda Sentinel (EE)"]  # fmt: skip
    lines = ["paths = {", *(f'"{p}",' for p in paths), "}", "agents = {", *(f'"{a}",' for a in agents), "}"]
    lines.append(
        "request = function() return wrk.format('GET', paths[math.random(#paths)], "
        "{['User-Agent'] = agents[math.random(#agents)]}) end"
    )
    path.write_text("\n".join(lines) + "\n")


def run_backend(
    backend: str,
    workdir: Path,
    seconds: int,
    connections: int,
    deliveries: int,
    pg_name: str = "bulkmail_bench_tracking",
) -> dict:
    url = fresh_database(backend, workdir, sqlite_name="tracking.db", pg_name=pg_name)
    engine = make_engine(url)
    upgrade(engine)
    campaign_id = populate(engine, deliveries)
    with engine.connect() as conn:
        ids = [r[0] for r in conn.execute(text("SELECT id FROM delivery"))]
    script = workdir / "hits.lua"
    lua_script(script, campaign_id, ids, 20000)
    port = free_port()
    env = {**os.environ, "BULKMAIL_DATABASE_URL": url, "BULKMAIL_SECRET_KEY": SECRET, "BULKMAIL_EMBEDDED_WORKER": "false",
           "BULKMAIL_SCHEDULER": "false", "BULKMAIL_DATA_DIR": str(workdir / "data"), "BULKMAIL_TRACKING_FLUSH_MS": "200"}  # fmt: skip
    server = subprocess.Popen(
        [sys.executable, "-m", "app", "serve", "--port", str(port)], env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        _wait_port(port)
        cpu_before = process_cpu(server.pid)
        out = subprocess.run(
            ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), f"http://127.0.0.1:{port}/"],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        cpu = process_cpu(server.pid) - cpu_before
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
    done = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    p99 = re.search(r"99%\s+(\S+)", out)
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT count(*) FROM tracking_hit")).scalar_one()
    settings = Settings(_env_file=None, database_url=url, secret_key=SECRET)
    start = time.perf_counter()
    settled = settle.settle_due(engine, settings, utcnow() + timedelta(minutes=5))
    settle_s = time.perf_counter() - start
    with engine.connect() as conn:
        counted = conn.execute(text("SELECT coalesce(sum(hits), 0) FROM tracking_count WHERE link >= 0")).scalar_one()
    engine.dispose()
    return {"backend": backend, "responses": done, "per_second": rate, "errors": int(bad.group(1)) if bad else 0,
            "p99": p99.group(1) if p99 else "?", "per_cpu_second": done / cpu if cpu else 0.0, "stored": stored, "settled": settled, "counted": counted,
            "settle_per_second": settled / settle_s if settle_s else 0.0}  # fmt: skip


def run_floor(workdir: Path, seconds: int, connections: int) -> dict:
    """wrk against bench/tracking/floor_app.py under the same uvicorn, with the same script."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "bench.tracking.floor_app:app", "--port", str(port), "--no-access-log",
         "--log-level", "warning"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        _wait_port(port)
        before = process_cpu(server.pid)
        out = subprocess.run(
            ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(workdir / "hits.lua"),
             f"http://127.0.0.1:{port}/"], capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        cpu = process_cpu(server.pid) - before
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
    done = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    return {"responses": done, "per_second": rate, "per_cpu_second": done / cpu if cpu else 0.0}


def _wait_port(port: int) -> None:
    import socket

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise RuntimeError("bulkmail serve did not start")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--backends", default="sqlite,postgresql")
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--deliveries", type=int, default=20000)
    ap.add_argument("--pg-name", default="bulkmail_bench_tracking", help="the scratch PostgreSQL database")
    args = ap.parse_args()
    print("| database | responses | per second | per CPU second of the service | non-2xx/3xx | p99 | hits stored | lost | "
          "settled | counted | settle hits/s |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for backend in args.backends.split(","):
            r = run_backend(backend, Path(tmp), args.seconds, args.connections, args.deliveries, args.pg_name)
            lost = max(r["responses"] - r["stored"], 0)
            print(f"| {r['backend']} | {r['responses']:,} | {r['per_second']:,.0f} | {r['per_cpu_second']:,.0f} | {r['errors']} | {r['p99']} | "
                  f"{r['stored']:,} | {lost} | {r['settled']:,} | {r['counted']:,} | {r['settle_per_second']:,.0f} |",
                  flush=True)  # fmt: skip
            f = run_floor(Path(tmp), args.seconds, args.connections)
            print(f"| floor: bare ASGI app, same bytes, same uvicorn, same script | {f['responses']:,} | {f['per_second']:,.0f} | "
                  f"{f['per_cpu_second']:,.0f} | | | | | | | |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()

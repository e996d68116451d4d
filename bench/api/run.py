"""API benchmarks against a real `bulkmail serve` process on loopback:

1. bulk upsert of 100,000 CMS users through POST /api/v1/contacts/bulk in requests of 10,000;
2. latency of GET /api/v1/campaigns/{id} under 50 concurrent clients (wrk) while that campaign is
   sending its 100,000 messages to Postfix's smtp-sink through the embedded worker.

    .venv/bin/python -m bench.api.run [--contacts 100000] [--batch 10000] [--database-url URL]

SQLite by default (a temporary file); --database-url takes an empty PostgreSQL database. The per-key
rate limit is switched off: 50 clients on one key would otherwise measure the 429 path."""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from sqlmodel import Session

from app.apikeys import create_api_key
from app.db import make_engine
from app.migrate import upgrade
from tests.support.mailstack import smtp_sink
from tests.support.network import free_port


def serve(env: dict[str, str], port: int, processes: int = 0) -> subprocess.Popen:  # type: ignore[type-arg]
    """`bulkmail serve` (the web server and its background process), or with processes > 0 the API alone in
    that many uvicorn processes."""
    cmd = [sys.executable, "-m", "app", "serve", "--port", str(port)]
    if processes:
        cmd = [sys.executable, "-m", "uvicorn", "--factory", "app.main:create_app", "--port", str(port),
               "--workers", str(processes), "--log-level", "warning"]  # fmt: skip
    proc = subprocess.Popen(cmd, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline and proc.poll() is None, "bulkmail serve did not start"
        time.sleep(0.2)


def stop(proc: subprocess.Popen) -> None:  # type: ignore[type-arg]
    proc.terminate()
    proc.wait(30)


def bulk_upsert(api: httpx.Client, contacts: int, batch: int, list_id: int | None) -> float:
    started = time.perf_counter()
    for start in range(0, contacts, batch):
        users = [{"external_id": f"cms-{i}", "email": f"user{i}@sink.test", "first_name": f"User{i}",
                  "attributes": {"plan": "free" if i % 3 else "pro"}} for i in range(start, min(start + batch, contacts))]  # fmt: skip
        r = api.post("/api/v1/contacts/bulk", json={"list_id": list_id, "contacts": users})
        r.raise_for_status()
    return time.perf_counter() - started


def wrk_latency(url: str, key: str, seconds: int) -> dict[str, str]:
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (Debian: apt-get install wrk)")
    out = subprocess.run(["wrk", "-t2", "-c50", f"-d{seconds}s", "--timeout", "10s", "--latency", "-H", f"Authorization: Bearer {key}", url],
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    found = dict(re.findall(r"^\s+(50%|75%|90%|99%)\s+(\S+)", out, re.M))
    found["requests/s"] = re.search(r"Requests/sec:\s+(\S+)", out).group(1)  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    found["non-2xx"] = non2xx.group(1) if non2xx else "0"
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--seconds", type=int, default=20, help="wrk duration")
    parser.add_argument("--database-url")
    parser.add_argument(
        "--processes",
        type=int,
        default=0,
        help="serve the API from N uvicorn processes, sending from a separate `bulkmail worker`",
    )
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bulkmail-bench-api-"))
    url = args.database_url or f"sqlite:///{workdir / 'bench.db'}"
    engine = make_engine(url)
    upgrade(engine)
    with Session(engine) as session:
        _, key = create_api_key(session, "bench", "write")
        session.commit()
    port, sink_port = free_port(), free_port()
    env = {"BULKMAIL_DATABASE_URL": url, "BULKMAIL_SECRET_KEY": "bench", "BULKMAIL_API_RATE_PER_SECOND": "0",
           "BULKMAIL_EMBEDDED_WORKER": "false", "BULKMAIL_SCHEDULER": "false", "BULKMAIL_UPLOAD_DIR": str(workdir),
           "BULKMAIL_BOUNCE_ADDRESS": "noreply@example.test", "BULKMAIL_SMTP_HOST": "127.0.0.1",
           "BULKMAIL_SMTP_PORT": str(sink_port), "BULKMAIL_SMTP_SECURITY": "none"}  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {key}"}
    layout = f"API in {args.processes} uvicorn processes + bulkmail worker" if args.processes else "one bulkmail serve"
    print(f"database: {engine.dialect.name}; {args.contacts} contacts in requests of {args.batch}; {layout}")

    server = serve(env, port)
    try:
        with httpx.Client(base_url=base, headers=headers, timeout=300) as api:
            first = bulk_upsert(api, args.contacts, args.batch, None)
            print(f"bulk upsert, new contacts:        {first:6.1f} s  ({args.contacts / first:,.0f} contacts/s)")
            list_id = api.post("/api/v1/lists", json={"name": "everyone"}).json()["id"]
            again = bulk_upsert(api, args.contacts, args.batch, list_id)
            print(f"bulk upsert, same users + list:   {again:6.1f} s  ({args.contacts / again:,.0f} contacts/s)")
            campaign = api.post("/api/v1/campaigns", json={
                "name": "bench", "from_address": "news@example.test", "subject": "Hi {{ first_name }}",
                "text_template": "Hello {{ first_name }}, you are on the {{ plan }} plan.", "list_ids": [list_id]})  # fmt: skip
            campaign.raise_for_status()
            cid = campaign.json()["id"]
    finally:
        stop(server)

    with smtp_sink(sink_port, 1024):
        sending = {**env, "BULKMAIL_EMBEDDED_WORKER": "true"}
        server = serve(env if args.processes else sending, port, args.processes)
        worker = subprocess.Popen([sys.executable, "-m", "app", "worker"], env={**os.environ, **sending},
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) if args.processes else None  # fmt: skip
        try:
            with httpx.Client(base_url=base, headers=headers, timeout=300) as api:
                t = time.perf_counter()
                api.post(f"/api/v1/campaigns/{cid}/launch").raise_for_status()
                print(f"launch (freeze {args.contacts} into the ledger): {time.perf_counter() - t:.1f} s")
                time.sleep(2)
                result = wrk_latency(f"{base}/api/v1/campaigns/{cid}", key, args.seconds)
                progress = api.get(f"/api/v1/campaigns/{cid}").json()["progress"]
            print(f"GET /api/v1/campaigns/{{id}}, 50 clients, {args.seconds} s while sending: p50 {result['50%']}, "
                  f"p90 {result['90%']}, p99 {result['99%']}; {result['requests/s']} req/s, non-2xx {result['non-2xx']}")  # fmt: skip
            print(f"sent meanwhile: {progress['counts']['sent']} of {progress['total']} "
                  f"({progress['rate_per_second']} msg/s over the last minute)")  # fmt: skip
        finally:
            stop(server)
            if worker is not None:
                stop(worker)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""CPU time per API request through the whole application (middleware, routing, dependencies, handler,
serialisation), in this process: no network, no load generator, so the figure moves far less with the
machine's load than wrk's. The request is the one `bench.api.run` polls, GET /api/v1/campaigns/{id} of a
campaign in state `sending` (answered from the in-process cache), from 50 concurrent clients.

    .venv/bin/python -m bench.api.request_cpu [--requests 10000] [--clients 50] [--profile FILE]

Run it from a checkout (the current directory's `app` is the one measured) to compare two versions with
the same virtualenv. With --profile, cProfile's statistics go to FILE; its call counts per request are
exact, whatever the load."""

import argparse
import asyncio
import cProfile
import json
import os
import sys
import tempfile
import time
from typing import Any

WARM_UP = 2000


def _environment(workdir: str) -> None:
    os.environ.update(
        {
            "BULKMAIL_DATABASE_URL": f"sqlite:///{workdir}/bench.db",
            "BULKMAIL_SECRET_KEY": "bench",
            "BULKMAIL_API_RATE_PER_SECOND": "0",
            "BULKMAIL_EMBEDDED_WORKER": "false",
            "BULKMAIL_SCHEDULER": "false",
            "BULKMAIL_UPLOAD_DIR": workdir,
            "BULKMAIL_BOUNCE_ADDRESS": "noreply@example.test",
        }
    )


async def _measure(requests: int, clients: int, profile: str | None) -> None:
    from sqlalchemy import text
    from sqlmodel import Session

    from app.apikeys import create_api_key
    from app.db import make_engine
    from app.main import create_app
    from app.migrate import upgrade

    engine = make_engine(os.environ["BULKMAIL_DATABASE_URL"])
    upgrade(engine)
    with Session(engine) as session:
        _, key = create_api_key(session, "bench", "write")
        session.commit()
    app = create_app()
    headers = [(b"host", b"127.0.0.1"), (b"authorization", f"Bearer {key}".encode())]

    async def call(method: str, path: str, body: bytes = b"") -> dict[str, Any]:
        extra = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())] if body else []
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": headers + extra,
            "client": ("127.0.0.1", 1),
            "server": ("127.0.0.1", 80),
            "state": {},
        }
        received = False

        async def receive() -> dict[str, Any]:
            nonlocal received
            if not received:
                received = True
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.Event().wait()  # the client never disconnects
            raise AssertionError

        out: dict[str, Any] = {"body": b""}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                out["status"] = message["status"]
            elif message["type"] == "http.response.body":
                out["body"] += message.get("body", b"")

        await app(scope, receive, send)
        return out

    r = await call("POST", "/api/v1/lists", json.dumps({"name": "everyone"}).encode())
    campaign = {"name": "bench", "from_address": "news@example.test", "subject": "Hi", "text_template": "Hello"}
    r = await call(
        "POST", "/api/v1/campaigns", json.dumps({**campaign, "list_ids": [json.loads(r["body"])["id"]]}).encode()
    )
    campaign_id = json.loads(r["body"])["id"]
    with engine.begin() as conn:  # polled while it sends: the cached answer, as in bench.api.run
        conn.execute(text("UPDATE campaign SET state = 'sending' WHERE id = :id"), {"id": campaign_id})
    path = f"/api/v1/campaigns/{campaign_id}"

    async def client(n: int) -> None:
        for _ in range(n):
            assert (await call("GET", path))["status"] == 200

    await client(WARM_UP)
    profiler = cProfile.Profile() if profile else None
    cpu, wall = time.process_time(), time.perf_counter()
    if profiler:
        profiler.enable()
    await asyncio.gather(*(client(requests // clients) for _ in range(clients)))
    if profiler:
        profiler.disable()
        profiler.dump_stats(profile)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    done = requests // clients * clients
    print(
        f"{os.getcwd()}: {done} requests, {clients} clients: {1e6 * cpu / done:.0f} µs CPU a request, {done / wall:,.0f} req/s"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=10000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--profile", help="write cProfile statistics of the measured requests here")
    args = parser.parse_args()
    sys.path.insert(0, os.getcwd())  # the checkout this is run from
    _environment(tempfile.mkdtemp(prefix="bulkmail-bench-request-cpu-"))
    asyncio.run(_measure(args.requests, args.clients, args.profile))
    return 0


if __name__ == "__main__":
    sys.exit(main())

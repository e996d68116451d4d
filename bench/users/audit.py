"""What the audit log costs a write: PATCH /api/v1/lists/{id} (an API key) and POST /lists/{id}/rename (a
signed-in page) against one live server (uvicorn in a thread, loopback), with the audit middleware and
with it taken out, in alternating rounds in one run so the machine's load hits both alike. Also the
audit page's first and a later page at --rows rows.

    .venv/bin/python -m bench.users.audit [--requests 300] [--rounds 4] [--rows 200000] [--database-url URL]

SQLite by default (a temporary file); --database-url takes an empty PostgreSQL database."""

import argparse
import re
import statistics
import tempfile
import time
from pathlib import Path

import httpx
from sqlalchemy import insert
from sqlmodel import Session

from app.apikeys import create_api_key
from app.db import make_engine
from app.main import create_app
from app.migrate import upgrade
from app.models import AuditEntry, MailingList, utcnow
from app.settings import Settings
from app.users import create_user
from app.users.audit import AuditMiddleware
from tests.support.browser import live_server
from tests.support.network import free_port

PASSWORD = "bench password 1"


def _app(settings: Settings, audited: bool):  # type: ignore[no-untyped-def]
    app = create_app(settings)
    if not audited:
        app.user_middleware = [m for m in app.user_middleware if m.cls is not AuditMiddleware]
    return app


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]


def _timed(n: int, call) -> list[float]:  # type: ignore[no-untyped-def]
    out = []
    for i in range(n):
        t = time.perf_counter()
        r = call(i)
        out.append(time.perf_counter() - t)
        assert r.status_code < 400, r.text[:300]
    return out


def _round(settings: Settings, audited: bool, key: str, list_id: int, n: int) -> tuple[list[float], list[float]]:
    import uvicorn

    port = free_port()
    app = _app(settings.model_copy(update={"base_url": f"http://127.0.0.1:{port}"}), audited)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    import threading

    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}) as api:
            api_times = _timed(n, lambda i: api.patch(f"/api/v1/lists/{list_id}", json={"name": f"api {i}"}))
        with httpx.Client(base_url=base) as web:
            token = _csrf(web.get("/login").text)
            web.post("/login", data={"email": "bench@example.test", "password": PASSWORD, "csrf_token": token})
            token = _csrf(web.get("/lists").text)
            web_times = _timed(n, lambda i: web.post(f"/lists/{list_id}/rename",
                                                     data={"name": f"web {i}", "description": "", "csrf_token": token}))  # fmt: skip
    finally:
        server.should_exit = True
        thread.join(30)
    return api_times, web_times


def _ms(values: list[float], q: float) -> float:
    return 1000 * statistics.quantiles(values, n=100)[int(q) - 1] if q < 100 else 1000 * max(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-audit-"))
    url = args.database_url or f"sqlite:///{workdir / 'bench.db'}"
    engine = make_engine(url)
    upgrade(engine)
    with Session(engine) as s:
        create_user(s, "bench@example.test", PASSWORD, role="admin")
        _, key = create_api_key(s, "bench", "write")
        ml = MailingList(name="bench")
        s.add(ml)
        s.commit()
        list_id = ml.id
    assert list_id is not None
    settings = Settings(_env_file=None, database_url=url, secret_key="bench", embedded_worker=False, scheduler=False,
                        api_rate_per_second=0, data_dir=workdir)  # fmt: skip
    results: dict[bool, tuple[list[float], list[float]]] = {True: ([], []), False: ([], [])}
    for r in range(args.rounds):
        for audited in (False, True) if r % 2 == 0 else (True, False):
            api_t, web_t = _round(settings, audited, key, list_id, args.requests)
            results[audited][0].extend(api_t)
            results[audited][1].extend(web_t)
    print(f"database: {engine.dialect.name}; {args.rounds} rounds x {args.requests} sequential requests each")
    print("| write | audit | p50 | p90 | p99 |")
    print("|---|---|---|---|---|")
    for what, i in (("PATCH /api/v1/lists/{id}", 0), ("POST /lists/{id}/rename", 1)):
        for audited in (False, True):
            t = results[audited][i]
            print(
                f"| {what} | {'on' if audited else 'off'} | {_ms(t, 50):.1f} ms | {_ms(t, 90):.1f} ms | {_ms(t, 99):.1f} ms |"
            )

    # the audit page at a size: rows written straight in, then the first page and one far down
    now = utcnow()
    rows = [{"at": now, "actor_kind": "api_key", "actor_id": 1, "actor": "bm_abc…", "action": "contacts.update",
             "route": "PATCH /api/v1/contacts/{contact_id}", "object_type": "contact", "object_id": str(i), "status": 200}
            for i in range(args.rows)]  # fmt: skip
    with engine.begin() as conn:
        for start in range(0, len(rows), 20_000):
            conn.execute(insert(AuditEntry), rows[start : start + 20_000])
    port = free_port()
    with (
        live_server(settings.model_copy(update={"base_url": f"http://127.0.0.1:{port}"}), port) as base,
        httpx.Client(base_url=base) as web,
    ):
        token = _csrf(web.get("/login").text)
        web.post("/login", data={"email": "bench@example.test", "password": PASSWORD, "csrf_token": token})
        firsts, laters = [], []
        page = web.get("/audit").text
        for _ in range(20):
            t = time.perf_counter()
            page = web.get("/audit").text
            firsts.append(time.perf_counter() - t)
        cursor = re.search(r'href="(/audit\?cursor=[^"#]+)', page).group(1)  # type: ignore[union-attr]
        for _ in range(20):
            t = time.perf_counter()
            web.get(cursor)
            laters.append(time.perf_counter() - t)
    print(
        f"audit page at {args.rows:,} rows: first page p50 {_ms(firsts, 50):.1f} ms, next page p50 {_ms(laters, 50):.1f} ms"
    )
    engine.dispose()


if __name__ == "__main__":
    main()

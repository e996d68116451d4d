"""The paged web pages at a million rows: 1M bounces (over 60 days), 1M suppressions, a list of 1M
contacts and a campaign ledger of 1M rows; the time of each page (first, a deep "next" page, filtered)
through the app, signed in, on SQLite and PostgreSQL.

    .venv/bin/python -m bench.web.pages [--rows 1000000] [--backends sqlite,postgresql] [--repeat 5]

PostgreSQL: a scratch database `bulkmail_bench_pages` on BULKMAIL_BENCH_POSTGRES (default
postgresql+psycopg://postgres@127.0.0.1:5432/postgres) is dropped and created for each run.
Prints one line per page: median and worst of the repeats, in milliseconds."""

import argparse
import html
import os
import re
import statistics
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import create_engine, make_url, text
from sqlmodel import Session

from app.db import insert_rows, make_engine
from app.main import create_app
from app.migrate import upgrade
from app.models import Bounce, Campaign, Contact, Delivery, ListMember, MailingList, Suppression
from app.settings import Settings
from app.users import create_user

ADMIN_URL = os.environ.get("BULKMAIL_BENCH_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
BENCH_DB = "bulkmail_bench_pages"
CHUNK = 50_000
REASONS = ("userunknown", "mailboxfull", "hostunknown", "blocked", "spamdetected", "expired", "filtered")


def _database(backend: str, workdir: Path) -> str:
    if backend == "sqlite":
        return f"sqlite:///{workdir / 'pages.db'}"
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)"))
        conn.execute(text(f"CREATE DATABASE {BENCH_DB}"))
    admin.dispose()
    return make_url(ADMIN_URL).set(database=BENCH_DB).render_as_string(hide_password=False)


def _chunks(rows: Iterator[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    chunk: list[dict[str, Any]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _seed(url: str, n: int) -> None:
    engine = make_engine(url)
    upgrade(engine)
    now = datetime.now(UTC)
    sqlite = url.startswith("sqlite")

    def at(i: int) -> datetime:
        return now - timedelta(seconds=i * 60 * 86400 // n)  # spread over 60 days, newest first

    tables: list[tuple[Any, Iterator[dict[str, Any]]]] = [
        (Bounce, ({"kind": "bounce" if i % 5 else "delayed", "reason": REASONS[i % len(REASONS)], "hard": i % 3 == 0,
                   "email": f"b{i}@example.test", "email_key": f"b{i}@example.test", "status": "5.1.1",
                   "reply_code": "550", "diagnostic": "unknown user", "remote_mta": "mx.example.test",
                   "attribution": "verp", "source": "sweep", "original_headers": "", "evidence": "",
                   "created_at": at(i)} for i in range(n))),
        (Suppression, ({"email": f"s{i}@example.test", "email_key": f"s{i}@example.test",
                        "reason": ("bounced", "unsubscribed", "manual")[i % 3], "source": "bench", "note": "",
                        "created_at": at(i)} for i in range(n))),
        (Contact, ({"email": f"c{i}@example.test", "email_key": f"c{i}@example.test", "is_role": False,
                    "attributes": {} if sqlite else "{}", "created_at": at(i), "updated_at": at(i)}
                   for i in range(n))),
    ]  # fmt: skip
    # (a contact's attributes: PostgreSQL's COPY reads JSON as text)
    with Session(engine) as s:
        for model, rows in tables:
            for chunk in _chunks(rows):
                insert_rows(s, model, chunk)
                s.commit()
        s.add(MailingList(name="Everyone"))
        s.add(Campaign(name="Big", from_address="news@example.test", subject="s", text_template="t", state="sending"))
        create_user(s, "bench@example.test", "bench password 1", role="admin")
        s.commit()
        members = ({"list_id": 1, "contact_id": i + 1, "source": "csv", "added_at": at(i)} for i in range(n))
        ledger = ({"campaign_id": 1, "contact_id": i + 1, "email": f"c{i}@example.test",
                   "email_key": f"c{i}@example.test", "state": "sent", "attempts": 1} for i in range(n))  # fmt: skip
        for model, rows in ((ListMember, members), (Delivery, ledger)):
            for chunk in _chunks(rows):
                insert_rows(s, model, chunk)
                s.commit()
        if not sqlite:
            s.execute(text("ANALYZE"))
            s.commit()
    engine.dispose()


def _time(client: TestClient, url: str, repeat: int) -> tuple[float, float, str]:
    times, page = [], ""
    for _ in range(repeat):
        start = time.perf_counter()
        r = client.get(url)
        times.append((time.perf_counter() - start) * 1000)
        assert r.status_code == 200, (url, r.status_code)
        page = r.text
    return statistics.median(times), max(times), page


def _next(page: str) -> str:
    found = re.search(r'<a href="([^"]+)" rel="next">', page)
    return html.unescape(found.group(1)) if found else ""


def run(backend: str, n: int, repeat: int, workdir: Path) -> None:
    url = _database(backend, workdir)
    start = time.perf_counter()
    _seed(url, n)
    print(f"\n{backend}: {n:,} rows each seeded in {time.perf_counter() - start:.0f} s")
    settings = Settings(_env_file=None, database_url=url, secret_key="bench", base_url="http://testserver",
                        embedded_worker=False, scheduler=False, bounce_address="noreply@example.test")  # fmt: skip
    with TestClient(create_app(settings)) as client:
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)  # type: ignore[union-attr]
        client.post("/login", data={"email": "bench@example.test", "password": "bench password 1",
                                    "csrf_token": token, "next": "/"})  # fmt: skip
        pages = ["/bounces", "/bounces?kind=bounce&reason=blocked", "/suppressions", "/suppressions?reason=manual",
                 "/suppressions?q=s99999", "/lists", "/lists/1", "/campaigns/1?email=c12345", "/campaigns",
                 "/"]  # fmt: skip
        for page_url in pages:
            median, worst, page = _time(client, page_url, repeat)
            print(f"| {backend} | `{page_url}` | {median:.0f} | {worst:.0f} |")
            deep = page_url
            for _ in range(20):  # twenty "next" clicks in: a keyset page costs the same as the first
                deep = _next(page) or deep
                if not _next(page):
                    break
                page = client.get(deep).text
            if deep != page_url:
                median, worst, _ = _time(client, deep, repeat)
                print(f"| {backend} | `{page_url}`, 21st page | {median:.0f} | {worst:.0f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-pages-") as workdir:
        for backend in args.backends.split(","):
            run(backend, args.rows, args.repeat, Path(workdir))


if __name__ == "__main__":
    main()

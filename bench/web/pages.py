"""The paged web pages at a million rows: 1M bounces (over 60 days), 1M suppressions (5 % of them the
contacts'), a list of 1M contacts shaped like people (names, shuffled addresses on 5,000 domains, a
company and a city) and a campaign ledger of 1M rows; the time of each page (first, a deep "next" page,
filtered, the contacts searched) through the app, signed in, on SQLite and PostgreSQL. Also: the time
to index the million contacts for search (what runs after a big import), and beside each search the
time of the same search as a plain LIKE scan of the contact table (what the search index saves).

    .venv/bin/python -m bench.web.pages [--rows 1000000] [--backends sqlite,postgresql] [--repeat 5]
        [--pages /contacts]   (only the pages whose URL starts so)
        [--workdir DIR]       (keep the SQLite database there)
        [--reuse URL]         (time the pages of a database seeded before, without seeding)

PostgreSQL: a scratch database `bulkmail_bench_pages` on BULKMAIL_BENCH_POSTGRES (default
postgresql+psycopg://postgres@127.0.0.1:5432/postgres) is dropped and created for each run.
Prints one line per page: median and worst of the repeats, in milliseconds."""

import argparse
import html
import json
import os
import random
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

from app.audience.search import index_missing
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
FIRST = (
    "Anna",
    "Ben",
    "Clara",
    "David",
    "Emma",
    "Felix",
    "Greta",
    "Hannah",
    "Jonas",
    "Karl",
    "Lena",
    "Lukas",
    "Marie",
    "Noah",
    "Olivia",
    "Paul",
    "Sofia",
    "Tom",
    "Ute",
    "Yusuf",
    "Zoe",
    "Mohammed",
    "Wei",
    "Priya",
)
LAST = (
    "Müller",
    "Schmidt",
    "Schneider",
    "Fischer",
    "Weber",
    "Meyer",
    "Wagner",
    "Becker",
    "Schulz",
    "Hoffmann",
    "Smith",
    "Jones",
    "Garcia",
    "Rossi",
    "Dubois",
    "Nowak",
    "Kowalski",
    "Novak",
    "Yilmaz",
    "Nguyen",
    "Kim",
)
CITIES = ("Berlin", "Hamburg", "München", "Köln", "Wien", "Zürich", "Paris", "Madrid", "Rome", "Oslo")
# the contact searches: a common name, a rare company (few matches among common trigrams), part of a
# domain, nothing at all, two letters (the start of the address), a city within a list and a status
SEARCHES = ("q=schneider", "q=company+12345", "q=d4321.example", "q=zzqzz", "q=an", "q=berlin&list_id=1&status=active")


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


def _people(n: int) -> list[tuple[str, str, str, dict[str, str]]]:
    """N people: (address, first name, last name, attributes), addresses unique and in shuffled order."""
    rnd = random.Random(1)
    out, seen = [], set()
    while len(out) < n:
        first, last = rnd.choice(FIRST), rnd.choice(LAST)
        local = f"{first}.{last}".lower().replace("ü", "ue").replace("ö", "oe")
        address = f"{local}{rnd.randrange(100_000)}@d{rnd.randrange(5000)}.example"
        if address in seen:
            continue
        seen.add(address)
        out.append((address, first, last, {"company": f"Company {rnd.randrange(50_000)}", "city": rnd.choice(CITIES)}))
    return out


def _seed(url: str, n: int) -> list[str]:
    engine = make_engine(url)
    upgrade(engine)
    now = datetime.now(UTC)
    sqlite = url.startswith("sqlite")
    people = _people(n)

    def at(i: int) -> datetime:
        return now - timedelta(seconds=i * 60 * 86400 // n)  # spread over 60 days, newest first

    tables: list[tuple[Any, Iterator[dict[str, Any]]]] = [
        (Bounce, ({"kind": "bounce" if i % 5 else "delayed", "reason": REASONS[i % len(REASONS)], "hard": i % 3 == 0,
                   "email": f"b{i}@example.test", "email_key": f"b{i}@example.test", "status": "5.1.1",
                   "reply_code": "550", "diagnostic": "unknown user", "remote_mta": "mx.example.test",
                   "attribution": "verp", "source": "sweep", "original_headers": "", "evidence": "",
                   "created_at": at(i)} for i in range(n))),
        (Suppression, ({"email": people[i][0] if i % 20 == 0 else f"s{i}@example.test",
                        "email_key": people[i][0] if i % 20 == 0 else f"s{i}@example.test",
                        "reason": ("bounced", "unsubscribed", "manual")[i % 3], "source": "bench", "note": "",
                        "created_at": at(i)} for i in range(n))),
        (Contact, ({"email": email, "email_key": email, "is_role": False, "first_name": first, "last_name": last,
                    "attributes": attrs if sqlite else json.dumps(attrs), "created_at": at(i), "updated_at": at(i)}
                   for i, (email, first, last, attrs) in enumerate(people))),
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
        ledger = ({"campaign_id": 1, "contact_id": i + 1, "email": people[i][0],
                   "email_key": people[i][0], "state": "sent", "attempts": 1} for i in range(n))  # fmt: skip
        for model, rows in ((ListMember, members), (Delivery, ledger)):
            for chunk in _chunks(rows):
                insert_rows(s, model, chunk)
                s.commit()
    start = time.perf_counter()
    indexed = index_missing(engine)
    print(f"  search index: {indexed:,} contacts indexed in {time.perf_counter() - start:.0f} s")
    start = time.perf_counter()
    index_missing(engine)  # what the scheduler's job costs each minute when there is nothing to index
    print(f"  search index catch-up with nothing to do: {(time.perf_counter() - start) * 1000:.0f} ms")
    with Session(engine) as s:
        s.execute(text("ANALYZE"))
        s.commit()
    engine.dispose()
    return [p[0] for p in people]


def _naive(url: str, query: str, repeat: int) -> float:
    """The search as a plain scan: LIKE over the address, the names and the attributes, newest first."""
    term = "%" + query.split("&")[0].removeprefix("q=").replace("+", " ") + "%"
    engine = make_engine(url)
    attrs = "CAST(attributes AS TEXT)" if url.startswith("sqlite") else "attributes::text"
    sql = text(f"SELECT id FROM contact WHERE email_key LIKE :t OR lower(first_name) LIKE :t OR lower(last_name) "
               f"LIKE :t OR lower({attrs}) LIKE :t ORDER BY id DESC LIMIT 51")  # fmt: skip
    times = []
    with engine.connect() as conn:
        for _ in range(repeat):
            start = time.perf_counter()
            conn.execute(sql, {"t": term}).all()
            times.append((time.perf_counter() - start) * 1000)
    engine.dispose()
    return statistics.median(times)


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


def run(backend: str, n: int, repeat: int, workdir: Path, only: str = "", reuse: str = "") -> None:
    if reuse:  # the database a previous run seeded (PostgreSQL's stays; SQLite's with --workdir)
        url = reuse
        addresses = [p[0] for p in _people(n)]
    else:
        url = _database(backend, workdir)
        start = time.perf_counter()
        addresses = _seed(url, n)
        print(f"\n{backend}: {n:,} rows each seeded in {time.perf_counter() - start:.0f} s")
    settings = Settings(_env_file=None, database_url=url, secret_key="bench", base_url="http://testserver",
                        embedded_worker=False, scheduler=False, bounce_address="noreply@example.test")  # fmt: skip
    with TestClient(create_app(settings)) as client:
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)  # type: ignore[union-attr]
        client.post("/login", data={"email": "bench@example.test", "password": "bench password 1",
                                    "csrf_token": token, "next": "/"})  # fmt: skip
        pages = ["/bounces", "/bounces?kind=bounce&reason=blocked", "/suppressions", "/suppressions?reason=manual",
                 "/suppressions?q=s99999", "/lists", "/lists/1", f"/campaigns/1?email={addresses[12345]}",
                 "/campaigns", "/", "/contacts", "/contacts?list_id=1", "/contacts?status=unsubscribed",
                 *(f"/contacts?{q}" for q in SEARCHES), f"/contacts/{n // 2}"]  # fmt: skip
        for query in SEARCHES:
            if f"/contacts?{query}".startswith(only):
                print(f"| {backend} | plain LIKE scan for `{query}` (no index, for comparison) | "
                      f"{_naive(url, query, repeat):.0f} | |")  # fmt: skip
        for page_url in [p for p in pages if p.startswith(only)]:
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
    parser.add_argument("--pages", default="", help="only the pages whose URL starts with this")
    parser.add_argument("--workdir", help="keep the SQLite database here (default: a temporary directory)")
    parser.add_argument("--reuse", default="", help="time the pages of this already seeded database URL")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-pages-") as tmp:
        workdir = Path(args.workdir or tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        for backend in args.backends.split(","):
            run(backend, args.rows, args.repeat, workdir, args.pages, args.reuse)


if __name__ == "__main__":
    main()

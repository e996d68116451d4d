"""Growth on PostgreSQL: the same steps at each size, side by side in one run, so the ratio between
sizes says whether a step grows linearly: import (`bulkmail import FILE --list big`, a shuffled CRM
export from bench/audience/generate.py), compile counts, the ledger freeze, a send of 100,000 through
the bench relay (Postfix's smtp-sink, two `bulkmail worker` processes), and the web pages that list
contacts, a campaign's ledger and bounces, timed through the app signed in.

    .venv/bin/python -m bench.growth.run [--contacts 1000000,10000000] [--send 100000] [--repeat 9]
        [--workdir DIR] [--keep]

Around the imported contacts the data is built set-based (INSERT ... SELECT over the contact ids,
bench/launch/steps.py `shape`): three overlapping lists, unconfirmed signups, per-list and global
suppressions, a past campaign whose ledger holds 40 % of the contacts as sent, and bounces (hard and
soft, a mix of reasons, backscatter), about 13 % of the contacts. The search rows the service's
catch-up would write (`app.audience.search.index_missing`, one contact at a time in Python) are
written by one statement with the same text, so the search pages can be timed at ten million without
waiting an hour for the catch-up. A scratch database `bulkmail_bench_growth` on BULKMAIL_BENCH_POSTGRES
(default postgresql+psycopg://postgres@127.0.0.1:5432/postgres) is created for each size and dropped
after it (--keep leaves the last one). Prints a Markdown section for bench/RESULTS.md."""

import argparse
import html
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select, text
from sqlmodel import Session

from app.audience.compile import compile_audience, freeze_into_ledger
from app.db import make_engine
from app.main import create_app
from app.migrate import upgrade
from app.models import Campaign, Delivery, MailingList, utcnow
from app.sending import campaigns as service
from app.settings import Settings
from app.users import create_user
from bench.audience.generate import CITIES, DOMAINS, FIRST, LAST, PLANS, generate
from bench.audience.run import ADMIN_URL, fresh_database
from bench.launch.steps import _cpu, shape
from bench.sending import templates
from bench.sending.run import cpu_seconds, until_completed, worker_env
from tests.support.mailstack import smtp_sink
from tests.support.network import free_port

BENCH_DB = "bulkmail_bench_growth"
IMPORT_DB = "bulkmail_bench_growth_import"
PAST_CAMPAIGN = 1  # the campaign `shape` makes first: 40 % of the contacts as sent
ADMIN_EMAIL, ADMIN_PASSWORD = "growth@example.test", "growth password 1"
# the search rows as `search.body_of` makes them: address, names, attribute values, lower case
SEARCH_ROWS = """
INSERT INTO contact_search (contact_id, body)
SELECT c.id, lower(concat_ws(' ', c.email_key, nullif(c.first_name, ''), nullif(c.last_name, ''),
       (SELECT string_agg(value, ' ') FROM json_each_text(c.attributes::json) WHERE value <> '')))
FROM contact c
ON CONFLICT (contact_id) DO NOTHING
"""


# N contacts shaped like the import's file (bench/audience/generate.py: address, first and last name, city and
# plan), made in one statement and inserted in shuffled address order, as an import of an export leaves them
CONTACT_ROWS = """
INSERT INTO contact (email, email_key, first_name, last_name, attributes, is_role, created_at, updated_at)
SELECT a, a, 'First' || g, 'Last' || g,
       json_build_object('city', (CAST(:cities AS text[]))[1 + g * 7 % 8], 'plan', (CAST(:plans AS text[]))[1 + g * 3 % 4]), false, now(), now()
FROM (SELECT g, (CAST(:first AS text[]))[1 + g % 12] || '.' || (CAST(:last AS text[]))[1 + g * 13 % 10] || g || '@' || (CAST(:domains AS text[]))[1 + g * 17 % 6] AS a
      FROM generate_series(1, :n) AS g) AS made
ORDER BY md5(a)
"""


def _contacts(engine: Any, n: int) -> float:
    start = time.perf_counter()
    with engine.begin() as conn:
        values = {"cities": CITIES, "plans": PLANS, "first": FIRST, "last": LAST, "domains": DOMAINS, "n": n}
        conn.execute(text("SET LOCAL work_mem = '256MB'"))
        conn.execute(text(CONTACT_ROWS), values)
    return _seconds(start)


def _drop_database(name: str = BENCH_DB) -> None:
    admin = make_engine(ADMIN_URL)
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()


def _seconds(start: float) -> float:
    return time.perf_counter() - start


def _import(url: str, csv_path: Path, workdir: Path) -> dict[str, Any]:
    """`bulkmail import` as a user runs it: a new process, wall seconds including start-up."""
    env = {**os.environ, "BULKMAIL_DATABASE_URL": url, "BULKMAIL_DATA_DIR": str(workdir)}
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-m", "app", "import", str(csv_path), "--list", "big"],
        capture_output=True,
        text=True,
        env=env,
    )
    seconds = _seconds(start)
    if out.returncode != 0:
        raise RuntimeError(out.stdout[-2000:] + out.stderr[-2000:])
    report = next((line.strip() for line in out.stdout.splitlines() if "rows read" in line), out.stdout[-300:])
    return {"import_s": seconds, "import_report": report}


def _shape(engine: Any, contacts: int, search: bool) -> tuple[list[int], dict[str, float]]:
    with Session(engine) as session:
        start = time.perf_counter()
        lists = shape(session, contacts, utcnow())
        shaped = _seconds(start)
        if not search:
            return lists, {"shape_s": shaped}
        start = time.perf_counter()
        # the trigram index is built once over the rows (as a restore does), not row by row
        index = session.execute(text("SELECT indexdef FROM pg_indexes WHERE indexname = 'contact_search_trgm'"))
        definition = index.scalar_one()
        session.execute(text("DROP INDEX contact_search_trgm"))
        session.execute(text(SEARCH_ROWS))
        session.execute(text("SET LOCAL maintenance_work_mem = '1GB'"))
        session.execute(text(definition))
        session.commit()
        session.execute(text("ANALYZE contact_search"))
        session.commit()
        return lists, {"shape_s": shaped, "search_rows_s": _seconds(start)}


def _compile_and_freeze(engine: Any, settings: Settings, lists: list[int]) -> dict[str, Any]:
    out: dict[str, Any] = {"compile_s": [], "compile_cpu_s": []}
    for _ in range(2):
        with Session(engine) as session:
            cpu, start = _cpu(session), time.perf_counter()
            counts = compile_audience(session, lists, settings, utcnow()).counts
            out["compile_s"].append(_seconds(start))
            out["compile_cpu_s"].append(_cpu(session) - cpu)
    with Session(engine) as session:
        campaign = Campaign(name="frozen", from_address="news@example.test", subject="Frozen")
        session.add(campaign)
        session.commit()
        assert campaign.id is not None
        cpu, start = _cpu(session), time.perf_counter()
        frozen = freeze_into_ledger(session, campaign.id, lists, settings, utcnow(), utcnow())
        session.commit()
        out["freeze_s"], out["freeze_cpu_s"] = _seconds(start), _cpu(session) - cpu
        rows = session.execute(select(func.count()).select_from(Delivery).where(Delivery.campaign_id == campaign.id))
        assert frozen == counts and rows.scalar_one() == counts["included"], (frozen, counts)
        out["frozen_campaign"] = campaign.id
    out["counts"] = counts
    return out


def _sample_list(engine: Any, campaign_id: int, n: int) -> int:
    """A list of N of the frozen campaign's recipients (none of them excluded), spread over the ledger,
    whose rows are in address order."""
    with Session(engine) as session:
        sample = MailingList(name="sample")
        session.add(sample)
        session.commit()
        total = session.execute(
            select(func.count()).select_from(Delivery).where(Delivery.campaign_id == campaign_id)
        ).scalar_one()
        session.execute(
            text(
                "INSERT INTO list_member (list_id, contact_id, source, added_at, status) "
                "SELECT :list, contact_id, 'api', now(), 'subscribed' FROM delivery "
                "WHERE campaign_id = :campaign AND id % :step = 0 LIMIT :n"
            ),
            {"list": sample.id, "campaign": campaign_id, "step": max(1, total // n), "n": n},
        )
        session.commit()
        assert sample.id is not None
        return sample.id


def _send(url: str, engine: Any, list_id: int, n: int, workdir: Path) -> dict[str, Any]:
    """Launch a campaign to the sample list and let two workers send it into smtp-sink: seconds from
    the launch until the campaign is completed, and the workers' CPU per message."""
    port = free_port()
    env = worker_env(url, port, workdir)
    with smtp_sink(port, 1024):
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "app", "worker"],
                env=env,
                cwd=workdir,
                stdout=(workdir / f"worker{i}.log").open("wb"),
                stderr=subprocess.STDOUT,
            )
            for i in range(2)
        ]
        try:
            time.sleep(3)  # the workers import and connect; they idle until the launch
            settings = Settings(_env_file=None, database_url=url, secret_key="bench-secret")
            plan = "{{ plan }}"  # the imported contacts have a plan where the sending bench's have a member number
            campaign = Campaign(
                name="send", from_name="Shop", from_address="news@example.test", subject=templates.SUBJECT,
                html_template=templates.HTML.replace("{{ member }}", plan),
                text_template=templates.TEXT.replace("{{ member }}", plan), list_ids=[list_id],
            )  # fmt: skip
            start = time.perf_counter()
            with Session(engine) as session:
                session.add(campaign)
                session.commit()
                service.launch(session, campaign, settings, utcnow())
                session.commit()
                campaign_id = campaign.id
            launched = _seconds(start)
            cpu_before = sum(cpu_seconds(p.pid) for p in procs)
            rss = until_completed(engine, campaign_id, procs, workdir)
            seconds = _seconds(start)
            cpu = sum(cpu_seconds(p.pid) for p in procs) - cpu_before
        finally:
            for p in procs:
                p.terminate()
                p.wait(60)
    with Session(engine) as session:
        states = dict(
            session.execute(
                select(Delivery.state, func.count()).where(Delivery.campaign_id == campaign_id).group_by(Delivery.state)
            ).all()
        )
    assert states == {"sent": n}, states
    return {"send_s": seconds, "send_launch_s": launched, "send_rate": n / seconds,
            "worker_cpu_us_per_msg": cpu / n * 1e6, "worker_peak_rss_mb": rss}  # fmt: skip


def _next(page: str, anchor: str = "") -> str:
    found = re.findall(r'<a href="([^"]+)" rel="next">', page)
    return html.unescape(found[0]) if found else ""


def _pages(engine: Any, settings: Settings, campaign_id: int, repeat: int, search: bool) -> dict[str, dict[str, float]]:
    """p50 / p95 / max milliseconds of each page, first page and the pages a user reaches by "next"."""
    with Session(engine) as session:
        create_user(session, ADMIN_EMAIL, ADMIN_PASSWORD, role="admin")
        session.commit()
        lists = dict(session.execute(select(MailingList.name, MailingList.id)).tuples().all())
        some = session.execute(
            text("SELECT email_key FROM delivery WHERE campaign_id = :c ORDER BY id OFFSET 12345 LIMIT 1"),
            {"c": campaign_id},
        ).scalar_one()
    local = some.split("@")[0]
    pages = [
        "/contacts", f"/contacts?list_id={lists['newsletter']}", "/contacts?status=unsubscribed",
        "/contacts?q=berlin", f"/contacts?q={local}", "/contacts?q=zzqzz",
        f"/contacts?q=berlin&list_id={lists['customers']}&status=active",
        f"/campaigns/{campaign_id}", f"/campaigns/{campaign_id}?email={some}", f"/campaigns/{campaign_id}?email=rossi",
        "/bounces", "/bounces?kind=bounce&reason=blocked", "/bounces?reason=hostunknown",
    ]  # fmt: skip
    if not search:  # no search rows written: the searches would find nothing
        pages = [p for p in pages if "q=" not in p]
    out: dict[str, dict[str, float]] = {}
    with TestClient(create_app(settings)) as client:
        login = client.get("/login").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', login).group(1)  # type: ignore[union-attr]
        client.post("/login", data={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD, "csrf_token": token, "next": "/"})
        for first in pages:
            url, label = first, first
            for depth in range(1, 22):
                if depth in (1, 2, 21):
                    times, page = [], ""
                    for _ in range(repeat):
                        start = time.perf_counter()
                        r = client.get(url)
                        times.append((time.perf_counter() - start) * 1000)
                        assert r.status_code == 200, (url, r.status_code)
                        page = r.text
                    times.sort()
                    out[label] = {"p50": statistics.median(times), "p95": times[round(0.95 * (len(times) - 1))],
                                  "max": times[-1]}  # fmt: skip
                    print(f"  {label}: {json.dumps(out[label])}", file=sys.stderr, flush=True)
                else:
                    page = client.get(url).text
                url = _next(page)
                if not url:
                    break
                label = f"{first}, page {depth + 1}"
    return out


def measure(
    contacts: int, send: int, repeat: int, workdir: Path, keep: bool, skip: set[str], database: str = BENCH_DB
) -> dict[str, Any]:
    result: dict[str, Any] = {"contacts": contacts}
    step = lambda name: print(f"{contacts:,}: {name}", file=sys.stderr, flush=True)  # noqa: E731
    if "import" not in skip:  # into a database of its own, as a user imports a file into a new installation
        csv_path = workdir / f"contacts-{contacts}.csv"
        start = time.perf_counter()
        result["generated"] = generate(str(csv_path), contacts)
        result["generate_s"] = _seconds(start)
        url = fresh_database("postgresql", workdir, pg_name=IMPORT_DB)
        upgrade(make_engine(url))
        step("import")
        result.update(_import(url, csv_path, workdir))
        csv_path.unlink()
        _drop_database(IMPORT_DB)
        step(f"import {result['import_s']:.1f} s")
    if "rest" in skip:
        return result
    url = fresh_database("postgresql", workdir, pg_name=database)
    engine = make_engine(url)
    upgrade(engine)
    settings = Settings(_env_file=None, database_url=url, secret_key="bench", base_url="http://testserver",
                        embedded_worker=False, scheduler=False, bounce_address="noreply@example.test")  # fmt: skip
    try:
        result["contacts_s"] = _contacts(engine, contacts)
        step(f"contacts made in {result['contacts_s']:.1f} s; shape")
        lists, shaped = _shape(engine, contacts, "search" not in skip)
        result.update(shaped)
        if "pages-first" in skip:  # the list pages before the freeze: the ledger searched is the past campaign's
            step("pages")
            result["pages"] = _pages(engine, settings, PAST_CAMPAIGN, repeat, "search" not in skip)
        step(f"shape {shaped}; compile and freeze")
        result.update(_compile_and_freeze(engine, settings, lists))
        step(f"compile {result['compile_s']}, freeze {result['freeze_s']:.1f} s; pages")
        with engine.connect() as conn:
            sizes = (
                "SELECT (SELECT count(*) FROM contact), (SELECT count(*) FROM delivery), (SELECT count(*) FROM bounce)"
            )
            result["rows"] = dict(
                zip(("contacts", "deliveries", "bounces"), conn.execute(text(sizes)).one(), strict=True)
            )
            result["db_size"] = conn.execute(
                text("SELECT pg_size_pretty(pg_database_size(current_database()))")
            ).scalar()
        if "pages" not in result:
            result["pages"] = _pages(engine, settings, result["frozen_campaign"], repeat, "search" not in skip)
        if "send" not in skip:
            step("send")
            sample = _sample_list(engine, result["frozen_campaign"], send)
            result.update(_send(url, engine, sample, send, workdir))
            step(f"send {result['send_s']:.1f} s")
        result["load"] = os.getloadavg()[0]
    finally:
        engine.dispose()
        if not keep:
            _drop_database(database)
    return result


STEPS = [
    ("import (`bulkmail import`, own database)", "import_s"),
    ("contacts made (one INSERT ... SELECT, not a product step)", "contacts_s"),
    ("lists, suppressions, past ledger, bounces (set-based, not a product step)", "shape_s"),
    ("compile counts (best of 2)", "compile_s"),
    ("compile counts, backend CPU (best of 2)", "compile_cpu_s"),
    ("freeze", "freeze_s"),
    ("freeze, backend CPU", "freeze_cpu_s"),
    ("send (launch to completed, 2 workers)", "send_s"),
]


def _value(r: dict[str, Any], key: str) -> float | None:
    v = r.get(key)
    return None if v is None else min(v) if isinstance(v, list) else float(v)


def _row(label: str, key: str, results: list[dict[str, Any]], unit: str = " s") -> str:
    values = [_value(r, key) for r in results]
    cells = [f"{v:.2f}{unit}" if v is not None else "—" for v in values]
    base = values[0]
    ratios = [f"{v / base:.2f}×" if v is not None and base else "—" for v in values[1:]]
    return f"| {label} | " + " | ".join(cells + ratios) + " |"


def report(results: list[dict[str, Any]], command: str, started: str) -> None:
    date = subprocess.run(["date", "-u", "+%Y-%m-%d %H:%M UTC"], capture_output=True, text=True).stdout.strip()
    print(f"\nMeasured {started} – {date}; command: `{command}`\n")
    sizes = [f"{r['contacts']:,}" for r in results]
    print("| step | " + " | ".join(sizes) + " | " + " | ".join(f"ratio {s} / {sizes[0]}" for s in sizes[1:]) + " |")
    print("|---|" + "---|" * (2 * len(results) - 1))
    for label, key in STEPS:
        print(_row(label, key, results))
    print("\nPages, milliseconds p50 / p95 / max:\n")
    print("| page | " + " | ".join(sizes) + " |")
    print("|---|" + "---|" * len(results))
    for page in results[-1].get("pages", {}):
        cells = []
        for r in results:
            p = r.get("pages", {}).get(page)
            cells.append(f"{p['p50']:.0f} / {p['p95']:.0f} / {p['max']:.0f}" if p else "—")
        print(f"| `{page}` | " + " | ".join(cells) + " |")
    for r in results:
        print(f"\n{r['contacts']:,}: " + json.dumps({k: v for k, v in r.items() if k != "pages"}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--contacts", default="1000000,10000000", help="sizes, comma-separated, smallest first")
    parser.add_argument("--send", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=9, help="requests per page")
    parser.add_argument("--workdir", help="for the generated file and the workers' logs (default: a temporary one)")
    parser.add_argument("--keep", action="store_true", help="leave the last size's database")
    parser.add_argument("--database", default=BENCH_DB, help="the scratch database's name")
    parser.add_argument(
        "--skip",
        default="",
        help="steps to leave out: import, search (the search rows), send, rest (all but the import)",
    )
    a = parser.parse_args()
    started = subprocess.run(["date", "-u", "+%Y-%m-%d %H:%M"], capture_output=True, text=True).stdout.strip()
    sizes = [int(s) for s in a.contacts.split(",")]
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-growth-") as tmp:
        workdir = Path(a.workdir or tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        for i, n in enumerate(sizes):
            r = measure(
                n, a.send, a.repeat, workdir, a.keep and i == len(sizes) - 1, set(a.skip.split(",")), a.database
            )
            print(json.dumps(r), file=sys.stderr, flush=True)
            results.append(r)
        if a.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    report(results, "python -m bench.growth.run " + " ".join(sys.argv[1:]), started)


if __name__ == "__main__":
    main()

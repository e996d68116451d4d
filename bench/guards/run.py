"""The deliverability guard's reads at a million deliveries: one sending campaign of ROWS ledger rows
sent over the last three days (2 % hard bounces, 0.05 % complaints), beside nine finished campaigns
sent weeks ago with ROWS rows between them. Times what the worker runs every `guard_check_seconds` and each sweep
runs once (`check_sending`), the campaign page's and the dashboard's reads, and prints the query
plans of the counts on SQLite and PostgreSQL.

    .venv/bin/python -m bench.guards.run [--rows 1000000] [--backends sqlite,postgresql] [--rounds 5]

PostgreSQL: the scratch database `bulkmail_bench_guards` on BULKMAIL_BENCH_POSTGRES is dropped and
created. Prints a Markdown table for bench/RESULTS.md."""

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine, select, text
from sqlmodel import Session

from app.db import is_postgresql, make_engine
from app.migrate import upgrade
from app.models import Campaign, utcnow
from app.sending import guards
from app.settings import Settings
from app.subscription.compliance import unsubscribe_compliance
from bench.audience.run import fresh_database

OLD_CAMPAIGNS = 9


def populate(engine: Engine, rows: int) -> int:
    """The sending campaign's id, after writing every campaign, its ledger and its bounces."""
    now = utcnow()
    with Session(engine) as s:
        ids = []
        for n in range(OLD_CAMPAIGNS + 1):
            sending = n == OLD_CAMPAIGNS
            c = Campaign(
                name=f"c{n}", from_address="news@example.test", subject="s", state="sending" if sending else "completed",
                launched_at=now - timedelta(days=3 if sending else 40 + n),
                completed_at=None if sending else now - timedelta(days=39 + n),
            )  # fmt: skip
            s.add(c)
            s.flush()
            ids.append(c.id)
        s.commit()
    pg = is_postgresql(engine)
    series = (
        "generate_series(0, :n - 1) AS g(i)"
        if pg
        else "(WITH RECURSIVE g(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM g WHERE i < :n - 1) SELECT i FROM g)"
    )  # noqa: E501
    # spread over the last three days (old campaigns: 40+ days ago)
    at = "(:now - (i % 4320) * interval '1 minute')" if pg else "datetime(:now, '-' || (i % 4320) || ' minutes')"
    with engine.begin() as conn:
        for campaign_id in ids:
            old = campaign_id != ids[-1]
            when = at if not old else ("(:now - interval '40 days')" if pg else "datetime(:now, '-40 days')")
            conn.execute(
                text(
                    "INSERT INTO delivery (campaign_id, email, email_key, state, attempts, last_attempt_at, sent_at) "
                    f"SELECT :c, 'r' || i || '@x.test', 'r' || i || '@x.test', 'sent', 1, {when}, {when} FROM {series}"
                ),
                {
                    "c": campaign_id,
                    "n": rows // OLD_CAMPAIGNS if old else rows,
                    "now": now.replace(tzinfo=None) if not pg else now,
                },
            )
            for kind, every, hard in (("bounce", 50, True), ("complaint", 2000, False)):
                conn.execute(
                    text(
                        "INSERT INTO bounce (kind, reason, hard, email, email_key, status, reply_code, diagnostic, "
                        "remote_mta, campaign_id, attribution, source, original_headers, evidence, created_at) "
                        f"SELECT :k, 'userunknown', :h, 'r' || i || '@x.test', 'r' || i || '@x.test', '', '', '', '', "
                        f":c, 'verp', 'sweep', '', '', {when} FROM {series} WHERE i % :e = 0"
                    ),
                    {"c": campaign_id, "n": rows // OLD_CAMPAIGNS if old else rows, "k": kind, "h": hard, "e": every,
                     "now": now.replace(tzinfo=None) if not pg else now},
                )  # fmt: skip
        conn.execute(text("ANALYZE"))
    return ids[-1]


def plans(engine: Engine, campaign_id: int) -> list[str]:
    """The query plans of the two counts for one campaign over seven days."""
    now = utcnow()
    since = {w: now - span for w, span in guards.WINDOWS.items()}
    out = []
    with Session(engine) as s:
        for stmt in guards.count_statements([campaign_id], since):
            compiled = stmt.compile(engine, compile_kwargs={"literal_binds": True})
            prefix = "EXPLAIN " if is_postgresql(engine) else "EXPLAIN QUERY PLAN "
            rows = s.execute(text(prefix + str(compiled))).all()
            out.append("\n".join(" ".join(str(v) for v in r) for r in rows))
    return out


def timed(fn, rounds: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def measure(backend: str, rows: int, rounds: int, workdir: Path) -> dict[str, object]:
    url = fresh_database(backend, workdir, "guards.db", "bulkmail_bench_guards")
    settings = Settings(database_url=url)
    engine = make_engine(url)
    upgrade(engine)
    t = time.perf_counter()
    campaign_id = populate(engine, rows)
    built = time.perf_counter() - t
    now = utcnow()

    def check() -> None:
        assert guards.check_sending(engine, settings, now) == []

    def page() -> None:
        with Session(engine) as s:
            guards.campaign_rates(s, settings, campaign_id, now)
            unsubscribe_compliance(s, campaign_id)

    def dashboard() -> None:
        with Session(engine) as s:
            guards.installation_rates(s, settings, now)

    with Session(engine) as s:
        total = s.execute(select(text("count(*)")).select_from(text("delivery"))).scalar_one()
    result = {
        "deliveries": total,
        "build_s": round(built, 1),
        "check_ms": round(timed(check, rounds), 1),
        "campaign_page_ms": round(timed(page, rounds), 1),
        "dashboard_ms": round(timed(dashboard, rounds), 1),
        "plans": plans(engine, campaign_id),
    }
    engine.dispose()
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000, help="ledger rows per campaign")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--rounds", type=int, default=5)
    a = parser.parse_args()
    date = subprocess.run(["date", "-u", "+%Y-%m-%d %H:%M UTC"], capture_output=True, text=True).stdout.strip()
    load = Path("/proc/loadavg").read_text().split()[0]
    results = {}
    with tempfile.TemporaryDirectory(prefix="bench-guards-") as tmp:
        for backend in a.backends.split(","):
            results[backend] = measure(backend, a.rows, a.rounds, Path(tmp))
            print(f"{backend}: {results[backend]}", file=sys.stderr, flush=True)
    print(f"\nMeasured {date} (load {load}); command: `.venv/bin/python -m bench.guards.run --rows {a.rows}`\n")
    print("| database | deliveries | check_sending (worker, sweep) | campaign page | dashboard |")
    print("|---|---:|---:|---:|---:|")
    for backend, r in results.items():
        print(
            f"| {backend} | {r['deliveries']:,} | {r['check_ms']} ms | {r['campaign_page_ms']} ms | {r['dashboard_ms']} ms |"
        )
    for backend, r in results.items():
        for plan in r["plans"]:  # type: ignore[attr-defined]
            print(f"\n{backend}:\n```\n{plan}\n```")


if __name__ == "__main__":
    main()

"""What a /metrics scrape costs at a million ledger rows: the guard benchmark's ledger (a sending campaign of ROWS
sent rows over three days, nine finished ones with ROWS between them, their bounces) plus a just-launched campaign
of ROWS queued rows. Times the whole scrape (the database's figures and the exposition) cold and warm (the rates
are kept 30 s past 100,000 messages, as the dashboard keeps them), beside the dashboard's rates read and a plain
count of the ledger in the same run.

    .venv/bin/python -m bench.metrics.run [--rows 1000000] [--backends sqlite,postgresql] [--rounds 5]

PostgreSQL: the scratch database `bulkmail_bench_metrics` on BULKMAIL_BENCH_POSTGRES is dropped and created."""

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from sqlalchemy import Engine, text
from sqlmodel import Session

from app.db import is_postgresql, make_engine
from app.metrics.http import Metrics
from app.migrate import upgrade
from app.models import Campaign, utcnow
from app.sending import guards
from app.settings import Settings
from bench.audience.run import fresh_database
from bench.guards.run import populate, timed


def launched(engine: Engine, rows: int) -> None:
    """A campaign just launched: ROWS queued rows, due now."""
    with Session(engine) as s:
        c = Campaign(name="new", from_address="news@example.test", subject="s", state="sending", launched_at=utcnow())
        s.add(c)
        s.commit()
        campaign_id = c.id
    pg = is_postgresql(engine)
    series = (
        "generate_series(0, :n - 1) AS g(i)"
        if pg
        else "(WITH RECURSIVE g(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM g WHERE i < :n - 1) SELECT i FROM g)"
    )
    now = utcnow()
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO delivery (campaign_id, email, email_key, state, attempts, next_attempt_at) "
                f"SELECT :c, 'q' || i || '@y.test', 'q' || i || '@y.test', 'queued', 0, :now FROM {series}"
            ),
            {"c": campaign_id, "n": rows, "now": now if pg else now.replace(tzinfo=None)},
        )
        conn.execute(text("ANALYZE"))


def measure(backend: str, rows: int, rounds: int, workdir: Path) -> dict[str, float]:
    url = fresh_database(backend, workdir, "metrics.db", "bulkmail_bench_metrics")
    settings = Settings(database_url=url)
    engine = make_engine(url)
    upgrade(engine)
    populate(engine, rows)
    launched(engine, rows)
    metrics = Metrics(settings, engine)

    def scrape_cold() -> None:
        guards._shown.clear()  # the dashboard's 30-second keep, emptied: every read counts again
        metrics.exposition()

    def dashboard() -> None:
        with Session(engine) as s:
            guards.installation_rates(s, settings, utcnow())

    def count() -> None:
        with engine.connect() as conn:
            conn.execute(text("SELECT count(*) FROM delivery")).scalar_one()

    result = {
        "scrape_cold_ms": timed(scrape_cold, rounds),
        "scrape_warm_ms": timed(metrics.exposition, rounds),
        "dashboard_ms": timed(dashboard, rounds),
        "count_ms": timed(count, rounds),
    }
    with engine.connect() as conn:
        result["deliveries"] = conn.execute(text("SELECT count(*) FROM delivery")).scalar_one()
    engine.dispose()
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--rounds", type=int, default=5)
    a = parser.parse_args()
    date = subprocess.run(["date", "-u", "+%Y-%m-%d %H:%M UTC"], capture_output=True, text=True).stdout.strip()
    load = Path("/proc/loadavg").read_text().split()[0]
    results = {}
    with tempfile.TemporaryDirectory(prefix="bench-metrics-") as tmp:
        for backend in a.backends.split(","):
            results[backend] = measure(backend, a.rows, a.rounds, Path(tmp))
            print(f"{backend}: {results[backend]}", file=sys.stderr, flush=True)
    print(f"\nMeasured {date} (load {load}); command: `.venv/bin/python -m bench.metrics.run --rows {a.rows}`\n")
    print(
        "| database | deliveries | scrape, cold | scrape, warm | dashboard rates | count(*) of the ledger | cold ÷ dashboard |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for backend, r in results.items():
        print(f"| {backend} | {r['deliveries']:,.0f} | {r['scrape_cold_ms']:.0f} ms | {r['scrape_warm_ms']:.0f} ms | "
              f"{r['dashboard_ms']:.0f} ms | {r['count_ms']:.0f} ms | {r['scrape_cold_ms'] / r['dashboard_ms']:.2f} |")  # fmt: skip


if __name__ == "__main__":
    main()

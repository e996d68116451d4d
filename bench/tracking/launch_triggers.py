"""What the ledger's per-domain triggers (migration 0028) cost a launch: one INSERT … SELECT of ROWS queued
ledger rows for a new campaign (addresses over a thousand domains), as a launch writes its audience, with every
trigger, without the per-domain ones (the per-state ones stay: the ledger as it was before 0028), and with them
again; each in its own transaction, timed to its commit (on PostgreSQL after a checkpoint).

    .venv/bin/python -m bench.tracking.launch_triggers [--rows 1000000] [--backends sqlite,postgresql]
        [--pg-name bulkmail_bench_launch]

PostgreSQL: the scratch database (dropped at the end) beside BULKMAIL_BENCH_POSTGRES_URL's."""

import argparse
import tempfile
import time
from pathlib import Path

from sqlalchemy import Engine, create_engine, text

from app.db import is_postgresql, make_engine
from app.migrate import upgrade
from bench.audience.run import ADMIN_URL, fresh_database

TRIGGERS = [f"delivery_domain_count_{verb}" for verb in ("insert", "update", "delete")]


def launch_s(engine: Engine, campaign_id: int, rows: int) -> float:
    pg = is_postgresql(engine)
    series = (
        "generate_series(0, :n - 1) AS g(i)"
        if pg
        else "(WITH RECURSIVE g(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM g WHERE i < :n - 1) SELECT i FROM g)"
    )
    address = "'p' || i || '@firm' || (i % 1000) || '.example'"
    if pg:  # the WAL of the insert before is written out first, not during this one
        with engine.connect() as conn:
            conn.execute(text("CHECKPOINT"))
    t = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO delivery (campaign_id, email, email_key, state, attempts) "
                          f"SELECT :c, {address}, {address}, 'queued', 0 FROM {series}"),
                     {"c": campaign_id, "n": rows})  # fmt: skip
    return time.perf_counter() - t


def without_domain_triggers(engine: Engine) -> list[str]:
    """Drop (SQLite) or disable (PostgreSQL) the per-domain triggers; what puts them back."""
    with engine.begin() as conn:
        if is_postgresql(engine):
            for name in TRIGGERS:
                conn.execute(text(f"ALTER TABLE delivery DISABLE TRIGGER {name}"))
            return [f"ALTER TABLE delivery ENABLE TRIGGER {name}" for name in TRIGGERS]
        kept = list(conn.execute(text("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name LIKE "
                                      "'delivery_domain_count_%'")).scalars())  # fmt: skip
        assert len(kept) == len(TRIGGERS)
        for name in TRIGGERS:
            conn.execute(text(f"DROP TRIGGER {name}"))
        return kept


def measure(backend: str, rows: int, workdir: Path, pg_name: str) -> tuple[float, float, float]:
    engine = make_engine(fresh_database(backend, workdir, "launch.db", pg_name))
    upgrade(engine)
    with_them = launch_s(engine, 1, rows)
    restore = without_domain_triggers(engine)
    without = launch_s(engine, 2, rows)
    with engine.begin() as conn:
        for statement in restore:
            conn.execute(text(statement))
    again = launch_s(engine, 3, rows)
    engine.dispose()
    if backend == "postgresql":
        admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {pg_name} WITH (FORCE)"))
        admin.dispose()
    return with_them, without, again


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--backends", default="sqlite,postgresql")
    ap.add_argument("--pg-name", default="bulkmail_bench_launch")
    a = ap.parse_args()
    print(f"load at start {Path('/proc/loadavg').read_text().split()[0]}")
    print("| database | rows | with the per-domain triggers | without | with them again |")
    print("|---|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory(prefix="bench-launch-") as tmp:
        for backend in a.backends.split(","):
            w, wo, again = measure(backend, a.rows, Path(tmp), a.pg_name)
            print(f"| {backend} | {a.rows:,} | {w:.2f} s | {wo:.2f} s | {again:.2f} s |", flush=True)
    print(f"load at end {Path('/proc/loadavg').read_text().split()[0]}")


if __name__ == "__main__":
    main()

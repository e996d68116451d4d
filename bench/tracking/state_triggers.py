"""What the ledger's per-state triggers (migration 0024) cost a writer on PostgreSQL: two UPDATEs of 1,000 ledger
rows in one transaction (one changing no state, as a lease does; one changing every row's state, as recording
results does), the median of ROUNDS transactions with the triggers, without them, and with them again.

    .venv/bin/python -m bench.tracking.state_triggers [--rounds 60] [--pg-name bulkmail_bench_triggers]

PostgreSQL: the scratch database (dropped at the end) beside BULKMAIL_BENCH_POSTGRES_URL's."""

import argparse
import statistics
import time
from pathlib import Path

from sqlalchemy import Engine, create_engine, text

from app.db import make_engine
from app.migrate import upgrade
from bench.audience.run import ADMIN_URL, fresh_database

VERBS = ("insert", "update", "delete")


def median_ms(engine: Engine, rounds: int) -> float:
    times = []
    for k in range(rounds):
        low = 1 + (k * 1000) % 99000
        with engine.begin() as conn:
            t = time.perf_counter()
            conn.execute(text("UPDATE delivery SET attempts = attempts + 1 WHERE id BETWEEN :a AND :b"),
                         {"a": low, "b": low + 999})  # fmt: skip
            conn.execute(text("UPDATE delivery SET state = CASE WHEN state = 'queued' THEN 'sent' ELSE 'queued' END "
                              "WHERE id BETWEEN :a AND :b"), {"a": low, "b": low + 999})  # fmt: skip
            times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def triggers(engine: Engine, on: bool) -> None:
    with engine.begin() as conn:
        for verb in VERBS:
            conn.execute(
                text(f"ALTER TABLE delivery {'ENABLE' if on else 'DISABLE'} TRIGGER delivery_state_count_{verb}")
            )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=60)
    ap.add_argument("--pg-name", default="bulkmail_bench_triggers")
    a = ap.parse_args()
    engine = make_engine(fresh_database("postgresql", Path("."), pg_name=a.pg_name))
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO delivery (campaign_id, email, email_key, state, attempts) "
                          "SELECT 1, 'p' || i || '@x.test', 'p' || i || '@x.test', 'queued', 0 "
                          "FROM generate_series(1, 100000) AS i"))  # fmt: skip
    print(f"load {Path('/proc/loadavg').read_text().split()[0]}")
    print(f"with the triggers: {median_ms(engine, a.rounds):.1f} ms per 2 x 1,000 rows")
    triggers(engine, False)
    print(f"without: {median_ms(engine, a.rounds):.1f} ms")
    triggers(engine, True)
    print(f"with them again: {median_ms(engine, a.rounds):.1f} ms")
    engine.dispose()
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {a.pg_name} WITH (FORCE)"))
    admin.dispose()


if __name__ == "__main__":
    main()

"""The ledger's claim alone: N queued rows of one sending campaign claimed in batches of 200, each batch
then marked sent (as the worker's record would), until none is left; wall time per claim and record.

    python bench/sending/claim.py [--db sqlite|postgresql] [--rows 100000]

Run from a checkout to measure its code (the script puts its own checkout first on the path).
PostgreSQL at BULKMAIL_BENCH_POSTGRES_URL (default .../bench_claim, dropped and created again)."""

import argparse
import os
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from sqlalchemy import insert, update  # noqa: E402
from sqlmodel import Session, col  # noqa: E402

from app.db import make_engine  # noqa: E402
from app.migrate import upgrade  # noqa: E402
from app.models import Campaign, Delivery, utcnow  # noqa: E402
from app.sending import ledger  # noqa: E402
from bench.sending.run import fresh_database  # noqa: E402

PG_URL = os.environ.get("BULKMAIL_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/bench_claim")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    ap.add_argument("--rows", type=int, default=100_000)
    args = ap.parse_args()
    engine = make_engine(fresh_database(args.db, Path(tempfile.mkdtemp(prefix="bench-claim-")), PG_URL))
    upgrade(engine)
    now = utcnow()
    with Session(engine) as session:
        campaign = Campaign(name="bench", from_address="a@example.test", subject="s", state="sending")
        session.add(campaign)
        session.flush()
        rows = [{"campaign_id": campaign.id, "email": f"r{i}@x.test", "email_key": f"r{i}@x.test",
                 "state": "queued", "next_attempt_at": now} for i in range(args.rows)]  # fmt: skip
        session.execute(insert(Delivery), rows)
        session.commit()
        campaign_id = campaign.id
    assert campaign_id is not None
    claims, start = 0, time.perf_counter()
    while True:
        with Session(engine) as session:
            claimed = ledger.claim(session, [campaign_id], 200, timedelta(minutes=5), "bench", utcnow())
            if not claimed:
                break
            ids = [r.id for r in claimed]
            session.execute(
                update(Delivery).where(col(Delivery.id).in_(ids)).values(state="sent", next_attempt_at=None)
            )
            session.commit()
            claims += 1
    elapsed = time.perf_counter() - start
    print(
        f"{args.db}, {args.rows} rows: {claims} claims in {elapsed:.1f} s, {elapsed / claims * 1000:.1f} ms per claim"
    )
    engine.dispose()


if __name__ == "__main__":
    main()

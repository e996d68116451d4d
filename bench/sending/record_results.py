"""Cost of writing send results to the ledger when some of them are relay rejections: each 5xx is a
bounce row, a webhook event and the suppression policy, written by the one bounce writer.

    python bench/sending/record_results.py [--db URL] [--batches 20] [--rejected 10]

`ledger.record` on batches of 200 results (REJECTED % of them 550 5.1.1, the rest sent); prints wall
and CPU time per batch. --db: a SQLite or PostgreSQL URL (a PostgreSQL database is dropped and
created anew); default a SQLite file in a temporary directory. smtp-sink accepts everything, so
bench/sending/run.py never takes this path."""

import argparse
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from pydantic import SecretStr
from sqlalchemy import create_engine, insert, make_url, select, text
from sqlmodel import Session

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from app.db import make_engine  # noqa: E402
from app.migrate import upgrade  # noqa: E402
from app.models import Campaign, Delivery, WebhookEndpoint  # noqa: E402
from app.sending import ledger  # noqa: E402
from app.sending.ledger import Claimed, Outcome  # noqa: E402
from app.settings import Settings  # noqa: E402
from bench.stopwatch import Stopwatch  # noqa: E402

BATCH = 200
REPLY = "550 5.1.1 <u@x.test>: Recipient address rejected: User unknown"


def fresh_database(url: str) -> None:
    if url.startswith("postgresql"):
        name = make_url(url).database
        admin = create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            conn.execute(text(f"CREATE DATABASE {name}"))
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="")
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--rejected", type=int, default=10, help="per cent of each batch the relay rejects")
    args = parser.parse_args()
    url = args.db or f"sqlite:///{tempfile.mkdtemp(prefix='bench-record-')}/bench.db"
    fresh_database(url)
    engine = make_engine(url)
    upgrade(engine)
    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    settings = Settings(_env_file=None, database_url=url, secret_key=SecretStr("x" * 32), smtp_host="relay.test")
    with Session(engine) as session:
        session.add(WebhookEndpoint(url="https://hooks.example.test/x", secret="s" * 32, events=["bounce"]))
        campaign = Campaign(name="bench", from_address="a@x.test", subject="s", state="sending", list_ids=[])
        session.add(campaign)
        session.flush()
        campaign_id = campaign.id
        assert campaign_id is not None
        session.execute(insert(Delivery), [
            {"campaign_id": campaign_id, "email": f"u{i}@x.test", "email_key": f"u{i}@x.test", "state": "queued",
             "attempts": 0, "next_attempt_at": now}
            for i in range(BATCH * args.batches)
        ])  # fmt: skip
        session.commit()
        ids = list(session.execute(select(Delivery.id).order_by(Delivery.id)).scalars())  # type: ignore[arg-type]
    every = max(1, round(100 / args.rejected)) if args.rejected else 0
    clock = Stopwatch()
    for b in range(args.batches):
        outcomes = []
        for j, delivery_id in enumerate(ids[b * BATCH : (b + 1) * BATCH]):
            email = f"u{delivery_id}@x.test"
            row = Claimed(
                delivery_id, campaign_id, None, email, email, 0, None, f"t{delivery_id}", f"<m{delivery_id}@x>"
            )
            rejected = every and j % every == 0
            outcomes.append(Outcome(row, "failed", 550, REPLY, now) if rejected else Outcome(row, "sent", 250, "", now))
        with Session(engine) as session, clock.running():
            ledger.record(session, outcomes, settings, now)
            session.commit()
    engine.dispose()
    print(f"{engine.dialect.name}: {args.batches} batches of {BATCH} ({args.rejected} % rejected): "
          f"{clock.per(args.batches)} per batch")  # fmt: skip


if __name__ == "__main__":
    main()

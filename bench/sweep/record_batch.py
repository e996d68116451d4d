"""CPU cost of the sweep's recording step alone: `record_batch` (processed-message rows, bounce rows,
suppressions, webhook events, the policy) over the corpus mails, classified once, without a mailbox.

    python bench/sweep/record_batch.py [--db URL] [--rounds 15]

Each round records every corpus mail again under new content hashes, in one batch and one commit;
prints wall and CPU time per batch. --db: a SQLite (default: a temporary file) or PostgreSQL URL."""

import argparse
import glob
import hashlib
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlmodel import Session

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from app.bounces.attribution import Lookup  # noqa: E402
from app.bounces.policy import BouncePolicy  # noqa: E402
from app.bounces.record import Incoming, SweepContext, message_kind, record_batch  # noqa: E402
from app.db import make_engine  # noqa: E402
from app.migrate import upgrade  # noqa: E402
from app.models import MailboxSweep  # noqa: E402
from bench.stopwatch import Stopwatch  # noqa: E402
from bounce_parsers import classify  # noqa: E402

CORPUS = "/work/shared/corpus/bounces/bsd/*.eml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="")
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    engine = make_engine(args.db or f"sqlite:///{tempfile.mkdtemp(prefix='bench-record-')}/bench.db")
    upgrade(engine)
    found = [classify(Path(p).read_bytes()) for p in sorted(glob.glob(CORPUS))]
    with Session(engine, expire_on_commit=False) as session:
        sweep = MailboxSweep(protocol="imap")
        session.add(sweep)
        session.commit()
    assert sweep.id is not None
    ctx = SweepContext(sweep.id, b"k" * 32, BouncePolicy())
    now = datetime(2026, 12, 1, tzinfo=UTC)
    clock = Stopwatch()
    items: list[Incoming] = []
    run = time.time_ns()  # content hashes new to the database, which may hold an earlier run's
    for r in range(args.rounds):
        with Session(engine, expire_on_commit=False) as session:
            lookup = Lookup(session, ctx.secret, found)
            items = [
                Incoming(f"{r}-{i}", hashlib.sha256(f"{run}-{r}-{i}".encode()).hexdigest(), 1000, f, kind)
                for i, f in enumerate(found)
                if (kind := message_kind(lookup, f)) != "none"
            ]
            with clock.running():
                record_batch(session, ctx, lookup, items, now)
                session.commit()
    engine.dispose()
    print(f"{engine.dialect.name}: {len(items)} messages x {args.rounds}: "
          f"{clock.per(args.rounds)} per batch")  # fmt: skip


if __name__ == "__main__":
    main()

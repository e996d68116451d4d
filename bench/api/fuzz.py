"""Schemathesis in full against the OpenAPI document: many examples per operation, valid and invalid
input, on a fresh migrated database (SQLite by default; --database-url for PostgreSQL).

    .venv/bin/python -m bench.api.fuzz [--examples 200] [--database-url URL]
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

from schemathesis import GenerationMode
from sqlmodel import Session

from app.apikeys import create_api_key
from app.db import get_engine
from app.main import create_app
from app.migrate import upgrade
from app.settings import Settings
from tests.api.fuzzing import EXCLUDED, fuzz


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", type=int, default=200, help="per operation and mode")
    parser.add_argument("--database-url", help="an empty database to migrate (default: a temporary SQLite file)")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bulkmail-fuzz-"))
    settings = Settings(
        _env_file=None, database_url=args.database_url or f"sqlite:///{workdir / 'fuzz.db'}",
        secret_key="fuzz", embedded_worker=False, scheduler=False, upload_dir=str(workdir / "uploads"),
        api_rate_per_second=0, bounce_address="noreply@example.test",
    )  # fmt: skip
    engine = get_engine(settings)
    upgrade(engine)
    with Session(engine) as session:
        _, key = create_api_key(session, "fuzz", "write")
        session.commit()
    started = time.monotonic()
    ran, failures = fuzz(create_app(settings), key, args.examples, (GenerationMode.POSITIVE, GenerationMode.NEGATIVE))
    print(f"{ran} operations x {args.examples} examples x 2 modes in {time.monotonic() - started:.0f} s; "
          f"excluded: {', '.join(f'{m} {p} ({why})' for (m, p), why in EXCLUDED.items())}")  # fmt: skip
    for failure in failures:
        print("\n" + failure)
    print(f"\n{len(failures)} failing operations")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

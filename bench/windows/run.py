"""Launch cost of sending windows and local time: one list of a million contacts (shaped like a user's, see
bench/launch/steps.py) frozen into the ledger with no timing, with a window and with local time (each row's
due time from a contact field of 40 zones, 10 % without a zone and 1 % with a name that is none), side by
side in one process per database; the second round runs in the reverse order.

    .venv/bin/python -m bench.windows.run [--contacts 1000000] [--backends sqlite,postgresql]

PostgreSQL: a scratch database `windows_bench_launch` on BULKMAIL_BENCH_POSTGRES is created and dropped.
Prints a Markdown table for bench/RESULTS.md."""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, func, select, text
from sqlmodel import Session

from app.audience.segments.audience import Audience, freeze
from app.db import is_postgresql, make_engine
from app.migrate import upgrade
from app.models import Delivery
from app.sending import launch_due
from app.sending.window import Timing
from app.settings import Settings
from bench.audience.run import ADMIN_URL, fresh_database
from bench.launch.steps import _campaign, _cpu, build

PG_NAME = "windows_bench_launch"
ZONES = ["Europe/Berlin", "Europe/London", "Europe/Paris", "Europe/Madrid", "Europe/Rome", "Europe/Warsaw",
         "Europe/Helsinki", "Europe/Moscow", "Europe/Istanbul", "Europe/Lisbon", "America/New_York",
         "America/Chicago", "America/Denver", "America/Los_Angeles", "America/Toronto", "America/Mexico_City",
         "America/Sao_Paulo", "America/Bogota", "America/Lima", "America/Santiago", "Asia/Tokyo", "Asia/Seoul",
         "Asia/Shanghai", "Asia/Kolkata", "Asia/Dubai", "Asia/Singapore", "Asia/Jakarta", "Asia/Bangkok",
         "Asia/Manila", "Asia/Karachi", "Australia/Sydney", "Australia/Perth", "Pacific/Auckland", "Africa/Cairo",
         "Africa/Lagos", "Africa/Johannesburg", "Africa/Nairobi", "Atlantic/Reykjavik", "Asia/Tehran",
         "Asia/Kathmandu"]  # fmt: skip
TIMINGS = {
    "any time": Timing(),
    "window": Timing.of({"days": ["mon", "tue", "wed", "thu", "fri"], "start": "08:00", "end": "20:00",
                         "zone": "Europe/Berlin"}, None),
    "local time": Timing.of(None, {"at": "09:00", "zone_field": "tz", "default_zone": "Europe/Berlin"}),
}  # fmt: skip
LAUNCH_AT = datetime.fromisoformat("2026-12-08T22:00:00+00:00")  # a Tuesday night in Berlin


def _zones(session: Session) -> None:
    """Each contact's zone by its id: one of ZONES, none for 10 %, a name that is no zone for 1 %."""
    pick = " ".join(f"WHEN {i} THEN '{z}'" for i, z in enumerate(ZONES))
    zone = f"CASE WHEN id % 100 < 10 THEN NULL WHEN id % 100 = 10 THEN 'Mars/Olympus' ELSE CASE id % {len(ZONES)} {pick} END END"
    build_object = "json_build_object" if is_postgresql(session) else "json_object"
    session.execute(text(f"UPDATE contact SET attributes = {build_object}('tz', {zone})"))
    session.commit()


def _freeze(session: Session, label: str, lists: list[int], settings: Settings) -> dict[str, Any]:
    campaign_id = _campaign(session, f"{label} {time.monotonic()}")
    cpu, start = _cpu(session), time.perf_counter()
    due = launch_due.first_due(session, TIMINGS[label], LAUNCH_AT)
    freeze(session, campaign_id, Audience(lists, [], [], []), settings, LAUNCH_AT, due)
    launch_due.done(session, due)
    session.commit()
    wall, used = time.perf_counter() - start, _cpu(session) - cpu
    rows, times = session.execute(
        select(func.count(), func.count(func.distinct(Delivery.next_attempt_at))).where(
            Delivery.campaign_id == campaign_id
        )
    ).one()
    return {"label": label, "wall": wall, "cpu": used, "rows": rows, "due_times": times}


def measure(backend: str, contacts: int, workdir: Path) -> list[dict[str, Any]]:
    url = fresh_database(backend, workdir, "windows.db", PG_NAME)
    engine = make_engine(url)
    upgrade(engine)
    settings = Settings(_env_file=None, database_url=url)
    out = []
    try:
        with Session(engine) as session:
            lists = build(session, contacts)
            _zones(session)
            if is_postgresql(session):
                session.execute(text("ANALYZE"))
                session.commit()
            order = list(TIMINGS)
            for labels in (order, order[::-1]):
                for label in labels:
                    r = _freeze(session, label, lists, settings)
                    r["load"] = os.getloadavg()[0]
                    print(backend, r, file=sys.stderr, flush=True)
                    out.append(r)
    finally:
        engine.dispose()
        if backend == "postgresql":
            admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f"DROP DATABASE IF EXISTS {PG_NAME} WITH (FORCE)"))
            admin.dispose()
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    a = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-windows-") as tmp:
        for backend in a.backends.split(","):
            results.append((backend, measure(backend, a.contacts, Path(tmp))))
    date = subprocess.run(["date", "-u", "+%Y-%m-%d %H:%M UTC"], capture_output=True, text=True).stdout.strip()
    print(f"\nMeasured {date}; command: `.venv/bin/python -m bench.windows.run --contacts {a.contacts}`\n")
    print("| backend | round | timing | rows | distinct due times | wall s | CPU s | × any time (wall) | load |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|")
    for backend, rows in results:
        per_round = len(TIMINGS)
        for i, r in enumerate(rows):
            round_rows = rows[(i // per_round) * per_round : (i // per_round + 1) * per_round]
            base = next(x for x in round_rows if x["label"] == "any time")["wall"]
            print(f"| {backend} | {i // per_round + 1} | {r['label']} | {r['rows']:,} | {r['due_times']} "
                  f"| {r['wall']:.2f} | {r['cpu']:.2f} | {r['wall'] / base:.2f} | {r['load']:.1f} |")  # fmt: skip


if __name__ == "__main__":
    main()

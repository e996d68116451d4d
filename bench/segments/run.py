"""Segments benchmark: a three-condition segment (a text field, a number field, a bounce history)
counted, and a campaign to it launched, over a million contacts with ten custom fields, 5 M ledger
rows and 200 k bounces, on SQLite and PostgreSQL, beside the same condition as a hand-written SQL
query (the floor) in the same run. See bench/segments/steps.py for the data.

    .venv/bin/python -m bench.segments.run [--contacts 1000000] [--backends sqlite,postgresql]

PostgreSQL: a scratch database `bulkmail_bench_segments` on BULKMAIL_BENCH_POSTGRES (default
postgresql+psycopg://postgres@127.0.0.1:5432/postgres) is dropped and created for each measurement.
Prints a Markdown table for bench/RESULTS.md."""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.audience.run import fresh_database
from bench.segments.steps import SEGMENT

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
BENCH_DB = os.environ.get("BULKMAIL_BENCH_SEGMENTS_DB", "bulkmail_bench_segments")  # another name: runs side by side


def measure(backend: str, contacts: int, workdir: Path) -> dict:
    url = fresh_database(backend, workdir, "segments.db", BENCH_DB)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, str(HERE / "steps.py"), url, str(contacts)], capture_output=True, text=True, env=env, cwd=ROOT
    )
    if out.returncode != 0:
        raise RuntimeError(out.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _runs(walls: list[float], cpus: list[float]) -> str:
    return " · ".join(f"{w:.2f} / {c:.2f}" for w, c in zip(walls, cpus, strict=True))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    a = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-segments-") as tmp:
        for backend in a.backends.split(","):
            r = measure(backend, a.contacts, Path(tmp))
            print(f"{backend}: {json.dumps(r)}", file=sys.stderr, flush=True)
            rows.append((backend, r))
    date = subprocess.run(["date", "-u", "+%Y-%m-%d %H:%M UTC"], capture_output=True, text=True).stdout.strip()
    print(f"\nMeasured {date}; command: `.venv/bin/python -m bench.segments.run --contacts {a.contacts}`\n")
    print(
        f"Segment: `{SEGMENT}`. Wall / CPU seconds (CPU: the Python process on SQLite, the session's backend on PostgreSQL).\n"
    )
    print(
        "| backend | contacts / ledger rows / bounces | floor: hand-written SQL count (3 runs) | segment count (3 runs) | ratio (best) | audience counts | launch (freeze) | matches / included |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for backend, r in rows:
        s = r["sizes"]
        ratio = min(r["count_s"]) / min(r["floor_s"])
        print(
            f"| {backend} | {s['contacts']:,} / {s['deliveries']:,} / {s['bounces']:,} | {_runs(r['floor_s'], r['floor_cpu_s'])} "
            f"| {_runs(r['count_s'], r['count_cpu_s'])} | {ratio:.2f} | {r['audience_s']:.2f} / {r['audience_cpu_s']:.2f} "
            f"| {r['launch_s']:.2f} / {r['launch_cpu_s']:.2f} | {r['count']:,} / {r['counts']['included']:,} |"
        )


if __name__ == "__main__":
    main()

"""Launch benchmark: compile counts and the ledger freeze for a million contacts, on SQLite and
PostgreSQL, on data shaped like a user's (see bench/launch/steps.py).

    .venv/bin/python -m bench.launch.run [--contacts 1000000] [--backends sqlite,postgresql]
        [--before DIR]

--before DIR also measures another checkout's code (e.g. `git archive main | tar -x -C DIR`) on the
same data in the same run, each on a database built by its own migrations. PostgreSQL: a scratch
database `bulkmail_bench_launch` on BULKMAIL_BENCH_POSTGRES (default
postgresql+psycopg://postgres@127.0.0.1:5432/postgres) is dropped and created for each measurement.
Prints a Markdown table for bench/RESULTS.md."""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ADMIN_URL = os.environ.get("BULKMAIL_BENCH_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
BENCH_DB = "bulkmail_bench_launch"
from bench.audience.run import fresh_database as fresh_scratch_database  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent


def fresh_database(backend: str, workdir: Path) -> str:
    return fresh_scratch_database(backend, workdir, "launch.db", BENCH_DB)


def measure(code: Path, backend: str, contacts: int, workdir: Path) -> dict:
    url = fresh_database(backend, workdir)
    env = {**os.environ, "PYTHONPATH": str(code)}
    out = subprocess.run(
        [sys.executable, str(HERE / "steps.py"), url, str(contacts)], capture_output=True, text=True, env=env, cwd=code
    )
    if out.returncode != 0:
        raise RuntimeError(out.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--before", default=None, help="another checkout to measure side by side")
    a = parser.parse_args()
    codes = [("this checkout", ROOT)] + ([("before", Path(a.before).resolve())] if a.before else [])
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-launch-") as tmp:
        for backend in a.backends.split(","):
            for label, code in codes:
                r = measure(code, backend, a.contacts, Path(tmp))
                print(f"{backend} {label}: {json.dumps(r)}", file=sys.stderr, flush=True)
                rows.append((backend, label, r))
    date = subprocess.run(["date", "-u", "+%Y-%m-%d %H:%M UTC"], capture_output=True, text=True).stdout.strip()
    print(f"\nMeasured {date}; command: `.venv/bin/python -m bench.launch.run --contacts {a.contacts}`\n")
    print(
        "Wall / CPU seconds (CPU: the Python process on SQLite, the session's backend on PostgreSQL); "
        "load = 1-minute load average at the end of the measurement.\n"
    )
    print(
        "| backend | code | compile counts (3 runs) | freeze, first campaign | freeze, second campaign "
        "| `bulkmail audience` | `bulkmail campaign send` to launched | load |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for backend, label, r in rows:
        compiles = " · ".join(f"{w:.2f} / {c:.2f}" for w, c in zip(r["compile_s"], r["compile_cpu_s"], strict=True))
        (first, second), (first_cpu, second_cpu) = r["freeze_s"], r["freeze_cpu_s"]
        print(
            f"| {backend} | {label} | {compiles} | {first:.2f} / {first_cpu:.2f} | {second:.2f} / {second_cpu:.2f} "
            f"| {r['cli_audience_s']:.2f} | {r['cli_launch_s']:.2f} | {r['load']:.1f} |"
        )
    counts = {json.dumps(r["counts"], sort_keys=True) for _, _, r in rows}
    if len(counts) != 1:
        raise SystemExit(f"the counts differ between runs: {counts}")
    print(
        "\nCounts (the same in every row and printed by both commands; the script checks each freeze against them): "
        f"{json.dumps(rows[-1][2]['counts'])}"
    )


if __name__ == "__main__":
    main()

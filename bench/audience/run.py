"""Audience benchmarks: a 1,000,000-row CSV import (against the database's own bulk loader as the
floor) and a compile of 1M contacts in 3 lists against 100,000 suppressions, on SQLite and PostgreSQL.

    .venv/bin/python -m bench.audience.run [--rows 1000000] [--backends sqlite,postgresql]

PostgreSQL: a scratch database `bulkmail_bench` on BULKMAIL_BENCH_POSTGRES (default
postgresql+psycopg://postgres@127.0.0.1:5432/postgres) is dropped and created for each run.
Prints a Markdown section for bench/RESULTS.md."""

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine, make_url, text

from bench.audience.generate import generate

ADMIN_URL = os.environ.get("BULKMAIL_BENCH_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
BENCH_DB = "bulkmail_bench"
COMPILE_CONTACTS = 1_000_000
SUPPRESSIONS = 100_000


def fresh_database(backend: str, workdir: Path) -> str:
    if backend == "sqlite":
        path = workdir / "bench.db"
        for p in workdir.glob("bench.db*"):
            p.unlink()
        return f"sqlite:///{path}"
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)"))
        conn.execute(text(f"CREATE DATABASE {BENCH_DB}"))
    admin.dispose()
    return make_url(ADMIN_URL).set(database=BENCH_DB).render_as_string(hide_password=False)


def child(args: list[str]) -> dict:
    """Run a step in its own process so its peak RSS is its own."""
    out = subprocess.run([sys.executable, "-m", "bench.audience.steps", *args], capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(out.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])


def floor(backend: str, url: str, csv_path: Path) -> float:
    """The database's own CSV loader on the same file, into a plain table (no validation, no indexes)."""
    if backend == "sqlite":
        db = make_url(url).database
        script = f".mode csv\n.import {csv_path} floor_import\n"
        start = time.perf_counter()
        subprocess.run(["sqlite3", db], input=script, text=True, check=True)
        return time.perf_counter() - start
    u = make_url(url)
    dsn = f"host={u.host} port={u.port or 5432} user={u.username} dbname={u.database}"
    create = "CREATE TABLE floor_import (email text, first_name text, last_name text, city text, plan text)"
    subprocess.run(["psql", dsn, "-q", "-c", create], check=True)
    start = time.perf_counter()
    subprocess.run(["psql", dsn, "-q", "-c", f"\\copy floor_import FROM '{csv_path}' CSV HEADER"], check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--workdir", default=None, help="keep the generated CSV here between runs")
    parser.add_argument("--contacts", type=int, default=COMPILE_CONTACTS)
    parser.add_argument("--suppressions", type=int, default=SUPPRESSIONS)
    a = parser.parse_args()
    workdir = Path(a.workdir or tempfile.mkdtemp(prefix="bench-audience-"))
    workdir.mkdir(parents=True, exist_ok=True)
    csv_path = workdir / f"contacts-{a.rows}.csv"
    if not csv_path.exists():
        made = generate(str(csv_path), a.rows)
        print(f"generated {csv_path}: {made}", file=sys.stderr)
    size_mb = csv_path.stat().st_size / 1e6
    results = {}
    for backend in a.backends.split(","):
        url = fresh_database(backend, workdir)
        imported = child(["import", url, str(csv_path)])
        floor_s = floor(backend, url, csv_path)
        url = fresh_database(backend, workdir)
        compiled = child(["compile", url, str(a.contacts), str(a.suppressions)])
        results[backend] = {"import": imported, "floor": floor_s, "compile": compiled}
        print(f"{backend}: {json.dumps(results[backend])}", file=sys.stderr)
    if not a.workdir:
        shutil.rmtree(workdir, ignore_errors=True)

    date = subprocess.run(["date", "-u", "+%Y-%m-%d %H:%M UTC"], capture_output=True, text=True).stdout.strip()
    sqlite_version = subprocess.run(["sqlite3", "--version"], capture_output=True, text=True).stdout.split()[0]
    print(
        f"\n## audience (issue 4)\n\nMeasured {date} (`date`), {platform.machine()}, {os.cpu_count()} cores / 24 GiB, "
        f"Python {platform.python_version()}, sqlite3 {sqlite_version}, PostgreSQL on 127.0.0.1.\n"
    )
    print(f"Command: `.venv/bin/python -m bench.audience.run --rows {a.rows}`\n")
    print(
        f"Import: a generated {a.rows:,}-row CSV ({size_mb:.0f} MB; address + 4 attributes, 5 % duplicates, 1 % "
        "invalid) through `import_file` (validation, dedupe, contacts + list memberships + rejects, a commit per "
        "10,000 rows, parsing overlapped with the writes), in its own process. Floor: the database's own loader on the same file into a bare table "
        "(`sqlite3 .import`, `psql \\copy`), timed in the same run.\n"
    )
    print("| backend | import wall | peak RSS | floor | ratio | added | duplicates | invalid | target |")
    print("|---|---|---|---|---|---|---|---|---|")
    for backend, r in results.items():
        i = r["import"]
        print(
            f"| {backend} | {i['seconds']:.1f} s | {i['rss_mb']} MB | {r['floor']:.1f} s | "
            f"{i['seconds'] / r['floor']:.1f}× | {i['added']:,} | {i['duplicates']:,} | {i['invalid']:,} | ≤ 60 s, ≤ 400 MB |"
        )
    print(
        f"\nCompile: {a.contacts:,} contacts in 3 overlapping lists, {a.suppressions:,} suppressions (all four "
        "reasons) and 20,000 hard bounces, counts by `compile_audience`; the ledger freeze (`freeze_into_ledger`, one "
        "INSERT … SELECT) is timed too.\n"
    )
    print("| backend | compile (counts) | freeze into ledger | included | target |")
    print("|---|---|---|---|---|")
    for backend, r in results.items():
        c = r["compile"]
        print(f"| {backend} | {c['compile_s']:.1f} s | {c['freeze_s']:.1f} s | {c['included']:,} | ≤ 10 s |")


if __name__ == "__main__":
    main()

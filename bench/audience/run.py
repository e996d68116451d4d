"""Audience benchmarks: a 1,000,000-row CSV import as a user runs it (`bulkmail import FILE --list big`,
a fresh database each), against the database's own bulk loader as the floor in the same run, and a
compile of 1M contacts in 3 lists against 100,000 suppressions, on SQLite and PostgreSQL.

    .venv/bin/python -m bench.audience.run [--rows 1000000] [--backends sqlite,postgresql] [--no-compile] [--api]
        [--repeat N] [--schema-floor]

The import's wall time and peak RSS come from /usr/bin/time -v around the CLI; its CPU is the client's plus, on
PostgreSQL, the database backends' (bench/cpu.py), as is the floor's, so the ratios hold on a shared machine; the counts the CLI
prints (and the rejects file it writes) are checked against what the generator made. With --api the
same file also goes through the JSON API upload (`bulkmail serve`, which runs the same import service).
PostgreSQL: a scratch database `bulkmail_bench` (BULKMAIL_BENCH_DB) on BULKMAIL_BENCH_POSTGRES (default
postgresql+psycopg://postgres@127.0.0.1:5432/postgres) is dropped and created for each run.
Prints a Markdown section for bench/RESULTS.md."""

import argparse
import contextlib
import csv
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine, make_url, text

from bench.audience.generate import generate
from bench.cpu import ServerCPU, group_cpu

ADMIN_URL = os.environ.get("BULKMAIL_BENCH_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
BENCH_DB = os.environ.get("BULKMAIL_BENCH_DB", "bulkmail_bench")  # a scratch database of its own per run
COMPILE_CONTACTS = 1_000_000
SUPPRESSIONS = 100_000


def fresh_database(backend: str, workdir: Path, sqlite_name: str = "bench.db", pg_name: str = BENCH_DB) -> str:
    """An empty scratch database: the SQLite file SQLITE_NAME in WORKDIR, or PostgreSQL database PG_NAME."""
    if backend == "sqlite":
        for p in workdir.glob(f"{sqlite_name}*"):
            p.unlink()
        return f"sqlite:///{workdir / sqlite_name}"
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {pg_name} WITH (FORCE)"))
        conn.execute(text(f"CREATE DATABASE {pg_name}"))
    admin.dispose()
    return make_url(ADMIN_URL).set(database=pg_name).render_as_string(hide_password=False)


def child(args: list[str]) -> dict:
    """Run a step in its own process so its peak RSS is its own."""
    out = subprocess.run([sys.executable, "-m", "bench.audience.steps", *args], capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(out.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])


FLOOR_CPU: dict[str, float] = {}  # CPU seconds of the last floor: sqlite3's own, or psql's plus its backend's


def _cpu(time_v: str) -> float:
    """User + system CPU seconds from /usr/bin/time -v output."""
    return sum(float(m) for m in re.findall(r"(?:User|System) time \(seconds\): ([\d.]+)", time_v))


def floor(backend: str, url: str, csv_path: Path) -> float:
    """The database's own CSV loader on the same file, into a plain table (no validation, no indexes)."""
    if backend == "sqlite":
        db = make_url(url).database
        script = f".mode csv\n.import {csv_path} floor_import\n"
        start = time.perf_counter()
        out = subprocess.run(
            ["/usr/bin/time", "-v", "sqlite3", db], input=script, text=True, check=True, capture_output=True
        )
        seconds = time.perf_counter() - start
        FLOOR_CPU[backend] = _cpu(out.stderr)
        return seconds
    u = make_url(url)
    dsn = f"host={u.host} port={u.port or 5432} user={u.username} dbname={u.database}"
    create = "CREATE TABLE floor_import (email text, first_name text, last_name text, city text, plan text)"
    subprocess.run(["psql", dsn, "-q", "-c", create], check=True)
    with ServerCPU(_admin_dsn(), u.database or "") as server:
        start = time.perf_counter()
        out = subprocess.run(
            ["/usr/bin/time", "-v", "psql", dsn, "-q", "-c", f"\\copy floor_import FROM '{csv_path}' CSV HEADER"],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        seconds = time.perf_counter() - start
    FLOOR_CPU[backend] = _cpu(out.stderr) + server.seconds
    return seconds


def _admin_dsn() -> str:
    u = make_url(ADMIN_URL)
    return f"host={u.host} port={u.port or 5432} user={u.username} dbname={u.database}"


def _server_cpu(url: str) -> ServerCPU | contextlib.nullcontext:
    """PostgreSQL: the CPU of the database's backends during the block; SQLite does its work in the client."""
    u = make_url(url)
    return (
        ServerCPU(_admin_dsn(), u.database or "") if u.get_backend_name() == "postgresql" else contextlib.nullcontext()
    )


def schema_floor(backend: str, url: str) -> float:
    """Right after `floor`, on the same database: the loaded rows moved into bulkmail's own tables by
    plain SQL, with no validation and no report (a lower-cased key, one row of each, inserted in key
    order, everyone in one list). What the schema itself costs (its indexes, foreign keys and JSON), which no importer
    can go below."""
    subprocess.run(
        [str(Path(sys.executable).with_name("bulkmail")), "db", "upgrade"],
        env={**os.environ, "BULKMAIL_DATABASE_URL": url}, check=True, capture_output=True,
    )  # fmt: skip
    now = "'2026-01-01 00:00:00.000000'" if backend == "sqlite" else "now()"
    attrs = (
        "json_object('city', city, 'plan', plan)"
        if backend == "sqlite"
        else "json_build_object('city', city, 'plan', plan)"
    )
    sql = (
        f"INSERT INTO mailing_list (name, description, created_at) VALUES ('floor', '', {now});\n"
        "INSERT INTO contact (email, email_key, is_role, first_name, last_name, attributes, created_at, updated_at) "
        f"SELECT email, lower(email), false, first_name, last_name, {attrs}, {now}, {now} FROM floor_import "
        "WHERE email NOT LIKE '%@@%' ORDER BY lower(email) ON CONFLICT (email_key) DO NOTHING;\n"
        "INSERT INTO list_member (list_id, contact_id, source, added_at) "
        f"SELECT (SELECT max(id) FROM mailing_list), id, 'csv', {now} FROM contact;\n"
    )
    if backend == "sqlite":
        script = (
            "PRAGMA journal_mode=WAL;\nPRAGMA synchronous=NORMAL;\nPRAGMA foreign_keys=ON;\nBEGIN;\n"
            + sql
            + "COMMIT;\n"
        )
        start = time.perf_counter()
        subprocess.run(["sqlite3", make_url(url).database], input=script, text=True, check=True, capture_output=True)
        return time.perf_counter() - start
    u = make_url(url)
    dsn = f"host={u.host} port={u.port or 5432} user={u.username} dbname={u.database}"
    start = time.perf_counter()
    subprocess.run(["psql", dsn, "-q", "-1", "-v", "ON_ERROR_STOP=1", "-c", sql], check=True)
    return time.perf_counter() - start


# the command's own last line: its time from its start to the report written, and rows read per second
THROUGHPUT = re.compile(r"^(?P<rows>[\d,]+) rows in (?P<seconds>[\d.]+) s \((?P<rate>[\d,]+) rows/s\)$", re.M)
REPORT = re.compile(
    r"rows read (?P<rows>\d+), added (?P<added>\d+), updated (?P<updated>\d+), duplicates in file "
    r"(?P<duplicates>\d+), invalid (?P<invalid>\d+), already suppressed (?P<suppressed>\d+)"
)


def cli_import(url: str, csv_path: Path, workdir: Path) -> dict:
    """`bulkmail import` as a user runs it, in its own process; wall time and peak RSS from time -v."""
    bulkmail = Path(sys.executable).with_name("bulkmail")
    rejects = workdir / "rejects.csv"
    env = {**os.environ, "BULKMAIL_DATABASE_URL": url, "BULKMAIL_UPLOAD_DIR": str(workdir / "uploads"),
           "PYTHONUNBUFFERED": "1"}  # fmt: skip  # each line as printed, so its moment can be taken
    # the schema first, as `bulkmail serve` or `bulkmail db upgrade` leave it (the floor's table is made untimed too)
    subprocess.run([str(bulkmail), "db", "upgrade"], env=env, check=True, capture_output=True)
    cmd = ["/usr/bin/time", "-v", str(bulkmail), "import", str(csv_path), "--list", "big", "--rejects", str(rejects)]
    reported = None  # when the CLI's time line arrived: the wait it describes, without the process's exit
    with _server_cpu(url) as server, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, text=True, env=env)
        assert process.stdout is not None
        lines = []
        for line in process.stdout:
            lines.append(line)
            if THROUGHPUT.match(line.rstrip("\n")):
                reported = time.perf_counter() - start
        process.wait()
        seconds = time.perf_counter() - start
        err.seek(0)
        stdout, stderr = "".join(lines), err.read()
    if process.returncode != 0:
        raise RuntimeError(stdout + stderr)
    report = REPORT.search(stdout)
    printed = THROUGHPUT.search(stdout)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", stderr)
    assert report and rss, stdout + stderr  # (code from before the time line prints none)
    with open(rejects, encoding="utf-8") as f:
        rejected = sum(1 for _ in csv.reader(f)) - 1
    return {"seconds": seconds, "rss_mb": int(rss.group(1)) // 1024, "rejects_file": rejected,
            "cpu": _cpu(stderr) + (server.seconds if server else 0.0), "reported_s": reported,
            "printed_s": float(printed["seconds"]) if printed else None,
            "printed_rate": int(printed["rate"].replace(",", "")) if printed else None,
            **{k: int(v) for k, v in report.groupdict().items()}}  # fmt: skip


def api_import(url: str, csv_path: Path, workdir: Path) -> dict:
    """The same file through the JSON API as a CMS sends it: `bulkmail serve` (its own process, under
    time -v), a multipart upload, then GET /imports/{id} until done. Wall time from the upload's start."""
    import signal
    import socket

    import httpx

    bulkmail = str(Path(sys.executable).with_name("bulkmail"))
    env = {**os.environ, "BULKMAIL_DATABASE_URL": url, "BULKMAIL_UPLOAD_DIR": str(workdir / "uploads"),
           "BULKMAIL_EMBEDDED_WORKER": "false", "BULKMAIL_SCHEDULER": "false"}  # fmt: skip
    made = subprocess.run(
        [bulkmail, "apikey", "create", "--name", "bench", "--scope", "write"], capture_output=True, text=True, env=env
    )
    key = made.stdout.strip().rpartition(": ")[2]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = open(workdir / "serve.log", "w+")  # noqa: SIM115 - closed below
    server_process = subprocess.Popen(
        ["/usr/bin/time", "-v", bulkmail, "serve", "--port", str(port)], stdout=log, stderr=log, env=env,
        start_new_session=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    auth = {"Authorization": f"Bearer {key}"}
    try:
        with httpx.Client(base_url=base, headers=auth, timeout=600) as client:
            for _ in range(600):
                try:
                    if client.get("/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.2)
            list_id = client.post("/api/v1/lists", json={"name": "big"}).json()["id"]
            with _server_cpu(url) as server:
                cpu_before = group_cpu(server_process.pid)
                start = time.perf_counter()
                with open(csv_path, "rb") as f:
                    r = client.post(f"/api/v1/lists/{list_id}/imports", files={"file": (csv_path.name, f, "text/csv")})
                assert r.status_code == 202, r.text
                while (job := client.get(f"/api/v1/imports/{r.json()['id']}").json())["state"] not in (
                    "done",
                    "failed",
                ):
                    time.sleep(0.2)
                seconds = time.perf_counter() - start
                cpu = group_cpu(server_process.pid) - cpu_before
    finally:
        os.killpg(server_process.pid, signal.SIGINT)
        server_process.wait(timeout=60)
    log.seek(0)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", log.read())
    log.close()
    assert job["state"] == "done", job
    return {"seconds": seconds, "rss_mb": int(rss.group(1)) // 1024 if rss else 0, "rows": job["rows_read"],
            "cpu": cpu + (server.seconds if server else 0.0),
            "rejects_file": job["invalid"], **{k: job[k] for k in ("added", "updated", "duplicates", "invalid",
                                                                    "suppressed")}}  # fmt: skip


def check_counts(made: dict[str, int], got: dict) -> list[str]:
    """What the CLI reported against what the generator made; empty when they agree."""
    want = {"rows": made["rows"], "added": made["unique"], "duplicates": made["duplicates"],
            "invalid": made["invalid"], "rejects_file": made["invalid"], "updated": 0, "suppressed": 0}  # fmt: skip
    return [f"{k}: CLI {got[k]:,}, generated {v:,}" for k, v in want.items() if got[k] != v]


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def _one_round(backend: str, a: argparse.Namespace, workdir: Path, csv_path: Path, made: dict) -> dict:
    """The floor, then the import (and the upload) on fresh databases, one after the other."""
    url = fresh_database(backend, workdir)
    r: dict = {"floor": floor(backend, url, csv_path), "floor_cpu": FLOOR_CPU[backend]}
    if a.schema_floor:
        r["schema"] = schema_floor(backend, url)
    url = fresh_database(backend, workdir)
    r["import"] = cli_import(url, csv_path, workdir)
    r["mismatches"] = check_counts(made, r["import"])
    if a.api:
        url = fresh_database(backend, workdir)
        r["api"] = api_import(url, csv_path, workdir)
        r["api_mismatches"] = check_counts(made, r["api"])
    print(f"{backend}: {json.dumps(r)}", file=sys.stderr)
    return r


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--workdir", default=None, help="keep the generated CSV here between runs")
    parser.add_argument("--contacts", type=int, default=COMPILE_CONTACTS)
    parser.add_argument("--suppressions", type=int, default=SUPPRESSIONS)
    parser.add_argument("--no-compile", action="store_true", help="the import only")
    parser.add_argument("--api", action="store_true", help="also the upload through the JSON API (bulkmail serve)")
    parser.add_argument("--repeat", type=int, default=1, help="rounds of floor and import; medians reported")
    parser.add_argument("--schema-floor", action="store_true", help="also the rows moved into the schema by plain SQL")
    a = parser.parse_args()
    workdir = Path(a.workdir or tempfile.mkdtemp(prefix="bench-audience-"))
    workdir.mkdir(parents=True, exist_ok=True)
    csv_path = workdir / f"contacts-{a.rows}.csv"
    counts_path = workdir / f"contacts-{a.rows}.json"
    if not csv_path.exists() or not counts_path.exists():
        counts_path.write_text(json.dumps(generate(str(csv_path), a.rows)))
    made = json.loads(counts_path.read_text())
    print(f"{csv_path}: {made}", file=sys.stderr)
    size_mb = csv_path.stat().st_size / 1e6
    rounds: dict[str, list[dict]] = {}
    results: dict[str, dict] = {}
    for _ in range(a.repeat):  # the backends alternate, so a change in the machine's load hits both
        for backend in a.backends.split(","):
            rounds.setdefault(backend, []).append(_one_round(backend, a, workdir, csv_path, made))
    for backend in a.backends.split(","):
        if not a.no_compile:
            url = fresh_database(backend, workdir)
            results[backend] = {"compile": child(["compile", url, str(a.contacts), str(a.suppressions)])}
    if not a.workdir:
        shutil.rmtree(workdir, ignore_errors=True)

    date = subprocess.run(["date", "-u", "+%Y-%m-%d %H:%M UTC"], capture_output=True, text=True).stdout.strip()
    sqlite_version = subprocess.run(["sqlite3", "--version"], capture_output=True, text=True).stdout.split()[0]
    load = os.getloadavg()[0]
    print(
        f"\n## audience import\n\nMeasured {date} (`date`), load average {load:.1f} at the end, {platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}, sqlite3 {sqlite_version}, PostgreSQL on 127.0.0.1.\n"
    )
    print(f"Command: `.venv/bin/python -m bench.audience.run {' '.join(sys.argv[1:])}`\n")
    print(
        f"Import: a generated {a.rows:,}-row CSV ({size_mb:.0f} MB; address + 4 attributes, addresses in random "
        "order like a CRM export, 5 % duplicates in other case, 1 % invalid) through `bulkmail import FILE --list big "
        "--rejects R.csv` in its own process on a fresh database (and with --api uploaded to `bulkmail serve`). "
        "Floor: the database's own loader on the same file into a bare table (`sqlite3 .import`, `psql \\copy`), "
        "in the same round. CPU: user + system of the client and, on PostgreSQL, of the database's backends. "
        f"Medians of {a.repeat} round(s); counts: the report and rejects file against the generator's.\n"
    )
    print("| backend | step | wall | CPU | floor wall / CPU | ratio wall / CPU | peak RSS | counts | the CLI printed |")
    print("|---|---|---|---|---|---|---|---|---|")
    for backend, rs in rounds.items():
        fw, fc = _median([r["floor"] for r in rs]), _median([r["floor_cpu"] for r in rs])
        for step, label in (("import", "`bulkmail import`"), ("api", "API upload")):
            if step not in rs[0]:
                continue
            w, c = _median([r[step]["seconds"] for r in rs]), _median([r[step]["cpu"] for r in rs])
            rss = max(r[step]["rss_mb"] for r in rs)
            bad = [m for r in rs for m in r["mismatches" if step == "import" else "api_mismatches"]]
            printed = "—"
            if step == "import" and rs[0][step]["printed_s"] is not None:
                # the CLI times itself from its process's start to its report: what it prints should be the moment
                # its line arrived here; the wall time adds the interpreter's exit
                ps = _median([r[step]["printed_s"] for r in rs])
                rate = _median([r[step]["printed_rate"] for r in rs])
                seen = _median([r[step]["reported_s"] for r in rs])
                printed = f"{ps:.1f} s, {rate:,.0f} rows/s (line read after {seen:.1f} s; {w - seen:.1f} s of exit)"
            print(
                f"| {backend} | {label} | {w:.1f} s | {c:.1f} s | {fw:.2f} s / {fc:.2f} s | {w / fw:.1f}× / {c / max(fc, 0.01):.1f}× "
                f"| {rss} MB | {'match' if not bad else '; '.join(bad)} | {printed} |"
            )
    if a.schema_floor:
        print(
            "\n| backend | floor + schema floor (plain SQL into bulkmail's tables) | import / (floor + schema floor) |"
        )
        print("|---|---|---|")
        for backend, rs in rounds.items():
            both = _median([r["floor"] + r["schema"] for r in rs])
            w = _median([r["import"]["seconds"] for r in rs])
            print(f"| {backend} | {both:.1f} s | {w / both:.1f}× |")
    if a.no_compile:
        return
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

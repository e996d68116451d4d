"""Sending benchmark: bulkmail end to end against Postfix's smtp-sink, next to smtp-source (the
physical limit on this machine) and a naive Python loop (stdlib smtplib, one EmailMessage per
recipient, no database).

    python bench/sending/run.py [--recipients 100000] [--naive 20000] [--only source,naive,sqlite,pg2]
                                [--domains 100 --pacing compare]

smtp-source runs before and after each bulkmail run, and each run's ratio is against the mean of those
two (this machine's speed drifts within minutes). Reported per run: end-to-end rate (launch included),
rate from the end of the launch, the workers' CPU time per message, peak RSS per worker.

--domains N spreads the recipients over N receiving domains in shuffled order; --pacing compare runs each
backend three times in the same sitting: per-domain pacing off, as shipped (no rate set), and with a
rate for every domain (BULKMAIL_PACING_RATE=200, far above what one domain gets here, so the run
measures what pacing costs, not a limit it imposes).

Run as root or a user that can start smtp-sink; PostgreSQL at BULKMAIL_BENCH_POSTGRES_URL
(default postgresql+psycopg://postgres@127.0.0.1:5432/bench_sending, created if missing)."""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import smtplib
import subprocess
import sys
import tempfile
import time
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from sqlalchemy import Engine, insert, select, text  # noqa: E402
from sqlmodel import Session  # noqa: E402

import templates  # noqa: E402
from app.db import make_engine  # noqa: E402
from app.migrate import upgrade  # noqa: E402
from app.models import Campaign, Contact, ListMember, MailingList, utcnow  # noqa: E402
from app.sending import campaigns as service  # noqa: E402
from app.settings import Settings  # noqa: E402
from tests.support.mailstack import smtp_sink  # noqa: E402
from tests.support.network import free_port  # noqa: E402

PG_URL = os.environ.get("BULKMAIL_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/bench_sending")
CITIES = ["Oslo", "Rome", "Lima", "Kyoto", "Quito", "Perth", "Accra", "Turku"]


def smtp_source(port: int, n: int) -> float:
    """messages/s of Postfix's smtp-source: 4 sessions, connections kept open (-d), 5 KB messages."""
    exe = shutil.which("smtp-source") or "/usr/sbin/smtp-source"
    start = time.perf_counter()
    subprocess.run([exe, "-4", "-s", "4", "-d", "-m", str(n), "-l", "5120", "-N", "-f", "noreply@example.test",
                    "-t", "rcpt@sink.test", f"127.0.0.1:{port}"], check=True, capture_output=True)  # fmt: skip
    return n / (time.perf_counter() - start)


def naive_loop(port: int, n: int) -> float:
    """The Python baseline: one EmailMessage per recipient, smtplib, 100 messages per connection."""
    start = time.perf_counter()
    smtp = None
    for i in range(n):
        if i % 100 == 0:
            if smtp:
                smtp.quit()
            smtp = smtplib.SMTP("127.0.0.1", port)
        first, city, member, url = f"R{i}", CITIES[i % 8], str(100000 + i), f"https://example.test/u/{i}"
        msg = EmailMessage()
        msg["From"] = "Shop <news@example.test>"
        msg["To"] = f"r{i}@sink.test"
        msg["Subject"] = f"{first}, spring is here"
        msg["Date"] = formatdate()
        msg["Message-ID"] = make_msgid(domain="example.test")
        msg["List-Unsubscribe"] = f"<{url}>"
        msg.set_content(templates.naive_text(first, city, member, url))
        msg.add_alternative(templates.naive_html(first, city, member, url), subtype="html")
        assert smtp is not None
        smtp.send_message(msg, from_addr=f"noreply+{i}@example.test", to_addrs=[f"r{i}@sink.test"])
    if smtp:
        smtp.quit()
    return n / (time.perf_counter() - start)


def until_completed(
    engine: Engine, campaign_id: int | None, procs: list[subprocess.Popen[bytes]], workdir: Path
) -> float:
    """Wait for the campaign to complete; the workers' peak RSS (MB) meanwhile. A worker's death ends the run."""
    rss = 0.0
    while True:
        with Session(engine) as session:
            state = session.get(Campaign, campaign_id).state  # type: ignore[union-attr]
            session.rollback()
        rss = max([rss] + [peak_rss_mb(p.pid) for p in procs])
        if state == "completed":
            return rss
        if any(p.poll() is not None for p in procs):
            raise SystemExit(f"a worker died; see {workdir}")
        time.sleep(0.2)


def fresh_database(kind: str, workdir: Path, pg_url: str = PG_URL) -> str:
    """An empty database of KIND: a new file in WORKDIR, or PG_URL's database dropped and made again."""
    if kind == "sqlite":
        for suffix in ("", "-wal", "-shm"):  # a second run in the same sitting starts afresh too
            (workdir / f"bench.db{suffix}").unlink(missing_ok=True)
        return f"sqlite:///{workdir / 'bench.db'}"
    admin = make_engine(pg_url.rsplit("/", 1)[0] + "/postgres")
    name = pg_url.rsplit("/", 1)[1]
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return pg_url


def address(i: int, domains: int) -> str:
    return f"r{i}@sink.test" if domains <= 1 else f"r{i}@d{i % domains}.sink.test"


def audience(url: str, n: int, domains: int = 1) -> int:
    engine = make_engine(url)
    upgrade(engine)
    with Session(engine) as session:
        lst = MailingList(name="everyone")
        session.add(lst)
        session.commit()
        list_id = lst.id
    order = list(range(n))
    random.Random(19).shuffle(order)  # the domains come in no order, as in a real list
    with engine.begin() as conn:
        for lo in range(0, n, 20000):
            conn.execute(insert(Contact), [
                {"email": address(i, domains), "email_key": address(i, domains), "first_name": f"R{i}",
                 "is_role": False, "attributes": {"city": CITIES[i % 8], "member": str(100000 + i)}}
                for i in order[lo:lo + 20000]
            ])  # fmt: skip
        ids = conn.execute(select(Contact.id)).scalars().all()
        conn.execute(insert(ListMember), [{"list_id": list_id, "contact_id": i, "source": "api"} for i in ids])
    engine.dispose()
    assert list_id is not None
    return list_id


def worker_env(url: str, port: int, workdir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BULKMAIL_")}
    env.update({
        "PYTHONPATH": str(ROOT), "BULKMAIL_DATABASE_URL": url, "BULKMAIL_SECRET_KEY": "bench-secret",
        "BULKMAIL_BOUNCE_ADDRESS": "noreply@example.test", "BULKMAIL_BASE_URL": "https://mail.example.test",
        "BULKMAIL_SMTP_HOST": "127.0.0.1", "BULKMAIL_SMTP_PORT": str(port), "BULKMAIL_SMTP_SECURITY": "none",
        "BULKMAIL_SCHEDULER": "false", "BULKMAIL_WORKER_POLL_SECONDS": "0.2",
        "BULKMAIL_DNS_SERVER": "127.0.0.1:9",  # MX lookups (none for .test names) never leave the machine
    })  # fmt: skip
    return env


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (a worker's own, without its children)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def bulkmail(
    kind: str, workers: int, port: int, n: int, workdir: Path, profile: str = "", domains: int = 1, pacing: str = ""
) -> dict[str, float]:
    url = fresh_database(kind, workdir)
    list_id = audience(url, n, domains)
    env = worker_env(url, port, workdir)
    if pacing:  # "off": no pacing at all; "default": pacing as shipped (no rate set: throttling and warm-up
        # only); "rated": every domain paced at a rate it never reaches here (its shared slot is read and
        # written at every claim)
        env["BULKMAIL_PACING"] = "false" if pacing == "off" else "true"
        if pacing == "rated":
            env["BULKMAIL_PACING_RATE"] = "200"
    cmd = [sys.executable, "-m", "app", "worker"]
    if profile:  # py-spy's collapsed stacks of each worker, for flame graphs or grep
        cmd = [str(Path(sys.executable).parent / "py-spy"), "record", "--format", "raw", "--threads",
               "-r", "200", "-o", str(Path(profile) / f"{kind}-w{{i}}.txt"), "--", *cmd]  # fmt: skip
    procs = [subprocess.Popen([a.replace("{i}", str(i)) for a in cmd], env=env, cwd=workdir,
                              stdout=(workdir / f"{kind}-w{i}.log").open("wb"), stderr=subprocess.STDOUT)
             for i in range(workers)]  # fmt: skip
    try:
        time.sleep(3)  # let the workers import and connect; they idle until the launch
        settings = Settings(_env_file=None, database_url=url, secret_key="bench-secret")
        engine = make_engine(url)
        start = time.perf_counter()
        with Session(engine) as session:
            campaign = Campaign(name="bench", from_name="Shop", from_address="news@example.test", subject=templates.SUBJECT,
                                html_template=templates.HTML, text_template=templates.TEXT, list_ids=[list_id])  # fmt: skip
            session.add(campaign)
            session.commit()  # launch checks a stored campaign (its check ends the transaction)
            service.launch(session, campaign, settings, utcnow())
            session.commit()
            campaign_id = campaign.id
        launched = time.perf_counter() - start
        cpu_at_launch = sum(cpu_seconds(p.pid) for p in procs)
        rss = until_completed(engine, campaign_id, procs, workdir)
        elapsed = time.perf_counter() - start
        rss = max([rss] + [peak_rss_mb(p.pid) for p in procs])
        cpu = sum(cpu_seconds(p.pid) for p in procs) - cpu_at_launch
        with engine.connect() as conn:
            states = dict(conn.execute(text("SELECT state, count(*) FROM delivery GROUP BY state")).all())
    finally:  # a failed run must not leave workers claiming rows in the next run's database
        for p in procs:
            p.send_signal(signal.SIGINT) if profile else p.terminate()  # py-spy writes its file on SIGINT
            p.wait(60)
    engine.dispose()
    assert states == {"sent": n}, states
    return {"rate": n / elapsed, "seconds": elapsed, "launch_seconds": launched, "peak_rss_mb": rss,
            "send_rate": n / (elapsed - launched), "worker_cpu_us_per_msg": cpu / n * 1e6}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--recipients", type=int, default=100_000)
    ap.add_argument("--naive", type=int, default=20_000, help="recipients for the naive loop (it is slow)")
    ap.add_argument("--only", default="source,naive,sqlite,pg2")
    ap.add_argument("--profile", default="", help="directory for py-spy's collapsed stacks of each worker")
    ap.add_argument("--domains", type=int, default=1, help="receiving domains the recipients are spread over")
    ap.add_argument("--pacing", choices=["default", "compare"], default="default",
                    help="compare: each backend with per-domain pacing off, as shipped, and with a rate per domain")  # fmt: skip
    args = ap.parse_args()
    only = set(args.only.split(","))
    port = free_port()
    workdir = Path(tempfile.mkdtemp(prefix="bulkmail-bench-"))
    results: dict[str, dict[str, float] | float] = {}
    sources: list[float] = []

    def floor() -> None:  # smtp-source before and after each bulkmail run: the machine's speed drifts
        if "source" in only:
            sources.append(smtp_source(port, args.recipients))
            print(f"smtp-source: {sources[-1]:.0f} msg/s", flush=True)

    with smtp_sink(port, 1024):
        floor()
        if "naive" in only:
            results["naive"] = naive_loop(port, args.naive)
            print(f"naive loop: {results['naive']:.0f} msg/s ({args.naive} messages)", flush=True)
        modes = ("off", "default", "rated") if args.pacing == "compare" else ("",)
        runs = [(f"{key}-pacing-{m}" if m else key, key, kind, workers, m)
                for key, kind, workers in (("sqlite", "sqlite", 1), ("pg2", "postgresql", 2)) for m in modes]  # fmt: skip
        for name, key, kind, workers, mode in runs:
            if key in only:
                r = bulkmail(kind, workers, port, args.recipients, workdir, args.profile, args.domains, mode)
                src = sources[-1] if sources else None
                floor()
                if src is not None:  # the floor measured just before and just after this run
                    r["smtp_source"] = (src + sources[-1]) / 2
                results[name] = r
                print(
                    f"bulkmail {workers} worker(s) {kind}{' pacing ' + mode if mode else ''}: "
                    + ", ".join(f"{k} {v:.1f}" for k, v in r.items()),
                    flush=True,
                )
    naive = results.get("naive")
    for key, *_ in runs:
        r = results.get(key)
        if isinstance(r, dict) and "smtp_source" in r:
            print(f"{key}: {r['rate'] / r['smtp_source']:.2f} x smtp-source end to end (launch included), "
                  f"{r['send_rate'] / r['smtp_source']:.2f} x from the launch on", end="")  # fmt: skip
            print(f", {r['rate'] / naive:.1f} x naive loop" if isinstance(naive, float) else "")
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()

"""Fault injection, end to end, against real servers of this run's own: a PostgreSQL cluster made with
pg_createcluster on a free port (never the shared one on 5432) and a Postfix + Dovecot stack on a port
offset. Each scenario prints what the receiving side got: lost, duplicated, and whether the campaign
completed by itself.

    .venv/bin/python bench/faults/run.py [--only db-pg,db-sqlite,relay-stop,relay-throttle,sweep-kill]

  db-pg           `bulkmail serve` + 2 `bulkmail worker` on PostgreSQL, 3,000 recipients into smtp-sink;
                  the cluster is stopped for 10 s mid-campaign and started again (no process dies)
  db-sqlite       `bulkmail worker` on SQLite, 3,000 recipients; another connection holds the database's
                  write lock for 40 s (past the 30 s busy timeout) mid-campaign
  relay-stop      `bulkmail worker` through Postfix (AUTH, STARTTLS) into a Maildir, 1,000 recipients;
                  Postfix stopped 30 s mid-campaign, default backoff settings
  relay-throttle  the same relay with its submission service limited to 3 smtpd processes, all 3 held
                  by idle clients for 20 s: connections are accepted and never greeted
  sweep-kill      `bulkmail sweep` over 3,000 bounces with 2 classifier processes, kill -9'd mid-sweep:
                  orphaned processes left behind, and the killed sweep's row after the next sweep

Needs root (PostgreSQL cluster, Postfix). Everything it starts it stops; the cluster is dropped."""

from __future__ import annotations

import argparse
import contextlib
import email
import email.policy
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from pydantic import SecretStr  # noqa: E402
from sqlalchemy import Engine, insert, select  # noqa: E402
from sqlmodel import Session  # noqa: E402

from app.db import make_engine  # noqa: E402
from app.migrate import upgrade  # noqa: E402
from app.models import Campaign, Contact, ListMember, MailboxSweep, MailingList, utcnow  # noqa: E402
from app.sending import campaigns as service  # noqa: E402
from app.settings import Settings  # noqa: E402
from tests.sending.workers import dumped_recipients, sink_dump_dir, start_worker, stop_worker, worker_env  # noqa: E402
from tests.support.mailstack import MailStack, smtp_sink, start_free_stack  # noqa: E402
from tests.support.network import free_port  # noqa: E402
from tests.support.pgcluster import PgCluster  # noqa: E402

NOREPLY = "noreply@example.test"
SECRET = "bench-secret"
SCENARIOS = ["db-pg", "db-sqlite", "relay-stop", "relay-throttle", "sweep-kill"]


def log(msg: str) -> None:
    print(f"  [{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def base_settings(url: str, **kw: object) -> Settings:
    fields: dict[str, object] = {"database_url": url, "secret_key": SECRET, "bounce_address": NOREPLY,
                                 "base_url": "http://bench.test", "scheduler": False, "worker_poll_seconds": 0.2}  # fmt: skip
    fields.update(kw)
    return Settings(_env_file=None, **fields)  # type: ignore[arg-type]


def launch(engine: Engine, settings: Settings, addresses: list[str]) -> int:
    upgrade(engine)
    with Session(engine) as session:
        lst = MailingList(name=f"everyone {time.time()}")
        session.add(lst)
        session.commit()
        list_id = lst.id
    with engine.begin() as conn:
        conn.execute(insert(Contact), [{"email": a, "email_key": a.lower(), "first_name": f"R{i}", "attributes": {},
                                        "is_role": False} for i, a in enumerate(addresses)])  # fmt: skip
        ids = conn.execute(select(Contact.id).where(Contact.email_key.in_([a.lower() for a in addresses]))).scalars()
        conn.execute(insert(ListMember), [{"list_id": list_id, "contact_id": i, "source": "api"} for i in ids])
    with Session(engine) as session:
        campaign = Campaign(name="faults", from_address=NOREPLY, subject="Hi {{ first_name }}",
                            text_template="Hello {{ first_name }}\n", list_ids=[list_id])  # fmt: skip
        session.add(campaign)
        session.commit()
        service.launch(session, campaign, settings, utcnow())
        session.commit()
        return campaign.id  # type: ignore[return-value]


class Watch:
    """Reads the campaign twice a second: every state it passed through, every relay problem shown."""

    def __init__(self, engine: Engine, campaign_id: int) -> None:
        self.engine, self.campaign_id = engine, campaign_id
        self.states: list[str] = []
        self.problems: list[str] = []
        self.paused_reasons: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            # the database may be down: that is the point
            with contextlib.suppress(Exception), Session(self.engine) as s:
                c = s.get(Campaign, self.campaign_id)
                assert c is not None
                if not self.states or self.states[-1] != c.state:
                    self.states.append(c.state)
                if c.relay_unreachable_since and c.relay_problem and c.relay_problem not in self.problems:
                    self.problems.append(c.relay_problem)
                if c.paused_reason and c.paused_reason not in self.paused_reasons:
                    self.paused_reasons.append(c.paused_reason)

    def state(self) -> str:
        return self.states[-1] if self.states else "?"

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)


def wait(check: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return False


def report(name: str, expected: set[str], got: Counter[str], watch: Watch, took: float, **extra: object) -> dict:  # type: ignore[type-arg]
    row = {
        "scenario": name,
        "recipients": len(expected),
        "lost": len(expected - set(got)),
        "duplicated": sum(1 for a in expected if got[a] > 1),
        "completed": watch.state() == "completed",
        "states": " → ".join(watch.states),
        "seconds": round(took, 1),
        **extra,
    }
    print(f"{name}: " + ", ".join(f"{k} {v}" for k, v in row.items() if k != "scenario"), flush=True)
    return row


# ---- item 1: the database goes away -------------------------------------------------------------


def serve(settings: Settings, logfile: Path) -> subprocess.Popen[bytes]:
    env = worker_env(settings, BULKMAIL_EMBEDDED_WORKER="true", BULKMAIL_UPLOAD_DIR=str(logfile.parent))
    return subprocess.Popen([sys.executable, "-m", "app", "serve", "--port", str(free_port())], cwd=logfile.parent,
                            env=env, stdout=logfile.open("ab"), stderr=subprocess.STDOUT)  # fmt: skip


def db_pg(cluster: PgCluster, work: Path, n: int = 3000) -> dict:  # type: ignore[type-arg]
    url = cluster.create_database(f"faults{int(time.time())}")
    engine = make_engine(url)
    port = free_port()
    s = base_settings(url, smtp_host="127.0.0.1", smtp_port=port, smtp_security="none", smtp_rate=100.0,
                      worker_batch=100, smtp_connections=2)  # fmt: skip
    addresses = [f"r{i}@sink.test" for i in range(n)]
    campaign_id = launch(engine, s, addresses)
    start = time.monotonic()
    with sink_dump_dir() as d, smtp_sink(port, 256, "-D", str(d / "dump.txt")):
        dump = d / "dump.txt"
        procs = [serve(s, work / "serve.log")] + [start_worker(s, work / f"worker{i}.log") for i in range(2)]
        watch = Watch(engine, campaign_id)
        try:
            wait(lambda: sum(dumped_recipients(dump).values()) >= 600, 60)
            log(f"{sum(dumped_recipients(dump).values())} delivered; stopping PostgreSQL for 10 s")
            cluster.stop()
            time.sleep(10)
            held = sum(dumped_recipients(dump).values())
            cluster.start()
            log(f"PostgreSQL back ({held} delivered meanwhile)")
            wait(lambda: watch.state() == "completed", 180)
            time.sleep(1)
        finally:
            watch.stop()
            for p in procs:
                stop_worker(p)
        got = dumped_recipients(dump)
    engine.dispose()
    logs = "".join(p.read_text(errors="replace") for p in work.glob("*.log"))
    return report("db-pg (PostgreSQL stopped 10 s)", set(addresses), got, watch, time.monotonic() - start,
                  worker_restarts=logs.count("restarting"))  # fmt: skip


def db_sqlite(work: Path, n: int = 3000, lock_seconds: float = 40.0) -> dict:  # type: ignore[type-arg]
    path = work / "faults.db"
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    port = free_port()
    s = base_settings(url, smtp_host="127.0.0.1", smtp_port=port, smtp_security="none", smtp_rate=40.0,
                      worker_batch=100, smtp_connections=2, worker_lease_seconds=120)  # fmt: skip
    addresses = [f"r{i}@sink.test" for i in range(n)]
    campaign_id = launch(engine, s, addresses)
    start = time.monotonic()
    with sink_dump_dir() as d, smtp_sink(port, 256, "-D", str(d / "dump.txt")):
        dump = d / "dump.txt"
        worker = start_worker(s, work / "sqlite-worker.log")
        watch = Watch(engine, campaign_id)
        try:
            wait(lambda: sum(dumped_recipients(dump).values()) >= 600, 60)
            log(f"{sum(dumped_recipients(dump).values())} delivered; locking the database for {lock_seconds:g} s")
            other = sqlite3.connect(str(path), isolation_level=None)
            other.execute("BEGIN EXCLUSIVE")
            time.sleep(lock_seconds)
            other.execute("COMMIT")
            other.close()
            log("lock released")
            wait(lambda: watch.state() == "completed", 300)
            time.sleep(1)
        finally:
            watch.stop()
            stop_worker(worker)
        got = dumped_recipients(dump)
    engine.dispose()
    logs = (work / "sqlite-worker.log").read_text(errors="replace")
    return report(f"db-sqlite (locked {lock_seconds:g} s)", set(addresses), got, watch, time.monotonic() - start,
                  worker_restarts=logs.count("restarting"))  # fmt: skip


# ---- item 2: the relay goes away ----------------------------------------------------------------


def relay_settings(stack: MailStack, url: str, **kw: object) -> Settings:
    return base_settings(url, smtp_host=stack.host, smtp_port=stack.submission_port, smtp_security="starttls",
                         smtp_cafile=stack.cafile, smtp_username=NOREPLY,
                         smtp_password=SecretStr(stack.users[NOREPLY]), smtp_connections=2, **kw)  # fmt: skip


def delivered(stack: MailStack) -> Counter[str]:
    got: Counter[str] = Counter()
    for raw in stack.messages("alice@example.test"):
        to = email.message_from_bytes(raw, policy=email.policy.default)["To"]
        got[to.addresses[0].addr_spec] += 1
    return got


def relay_run(name: str, stack: MailStack, work: Path, fault: Callable[[], None], n: int, **kw: object) -> dict:  # type: ignore[type-arg]
    stack.clear_mailboxes()
    url = f"sqlite:///{work / (name + '.db')}"
    engine = make_engine(url)
    s = relay_settings(stack, url, **kw)
    addresses = [f"alice+r{i}@example.test" for i in range(n)]  # the + delimiter files them all in alice's Maildir
    campaign_id = launch(engine, s, addresses)
    start = time.monotonic()
    worker = start_worker(s, work / f"{name}.log")
    watch = Watch(engine, campaign_id)
    try:
        wait(lambda: len(stack.messages("alice@example.test")) >= n // 5, 60)
        fault()
        back = time.monotonic()
        wait(lambda: watch.state() in ("completed", "paused"), 600)
        resumed_after = time.monotonic() - back
        with contextlib.suppress(TimeoutError):
            stack.wait_queue_empty(60)
    finally:
        watch.stop()
        stop_worker(worker)
    engine.dispose()
    return report(name, set(addresses), delivered(stack), watch, time.monotonic() - start,
                  done_after_relay_back_s=round(resumed_after, 1), problems_shown=watch.problems,
                  paused_reasons=watch.paused_reasons)  # fmt: skip


def relay_stop(stack: MailStack, work: Path) -> dict:  # type: ignore[type-arg]
    def fault() -> None:
        log("stopping Postfix for 30 s")
        stack.stop_postfix()
        time.sleep(30)
        stack.start_postfix()
        log("Postfix back")

    return relay_run("relay-stop (Postfix stopped 30 s)", stack, work, fault, 1000, smtp_rate=50.0)


def postconf(stack: MailStack, *args: str) -> None:
    subprocess.run(["/usr/sbin/postconf", "-c", str(stack.postfix_dir), *args], check=True, capture_output=True)


def relay_throttle(stack: MailStack, work: Path, limit: int = 3, hold: float = 20.0) -> dict:  # type: ignore[type-arg]
    service_name = f"{stack.host}:{stack.submission_port}/inet"
    postconf(stack, "-F", f"{service_name}/process_limit={limit}")
    subprocess.run(["/usr/sbin/postfix", "-c", str(stack.postfix_dir), "reload"], check=True, capture_output=True)
    time.sleep(1)

    def fault() -> None:
        log(f"holding all {limit} smtpd processes for {hold:g} s")
        idle = []
        for _ in range(limit):
            sock = socket.create_connection((stack.host, stack.submission_port), timeout=10)
            sock.recv(512)  # its greeting: this smtpd is now ours
            idle.append(sock)
        time.sleep(hold)
        for sock in idle:
            sock.close()
        log("smtpd processes free again")

    try:
        return relay_run("relay-throttle (smtpd limit exhausted 20 s)", stack, work, fault, 300, smtp_rate=20.0,
                         smtp_timeout=5.0)  # fmt: skip
    finally:
        postconf(stack, "-F", f"{service_name}/process_limit=-")
        subprocess.run(["/usr/sbin/postfix", "-c", str(stack.postfix_dir), "reload"], capture_output=True)


# ---- item 3: a sweep killed with -9 -------------------------------------------------------------


def descendants(pid: int) -> set[int]:
    found: set[int] = set()
    todo = [pid]
    while todo:
        p = todo.pop()
        for task in Path(f"/proc/{p}/task").glob("*"):
            with contextlib.suppress(OSError):
                for child in (task / "children").read_text().split():
                    if int(child) not in found:
                        found.add(int(child))
                        todo.append(int(child))
    return found


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except (OSError, IndexError):
        return False


def rss_mb(pid: int) -> float:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def sweep_kill(stack: MailStack, work: Path, db: str, cluster: PgCluster | None, n: int = 3000) -> dict:  # type: ignore[type-arg]
    from bench.sweep.run import corpus, fill, seed

    url = cluster.create_database(f"sweep{int(time.time())}") if db == "postgresql" and cluster else (
        f"sqlite:///{work / 'sweep.db'}")  # fmt: skip
    tokens = seed(url, n)
    fill(stack, corpus(), tokens)
    s = base_settings(url, mailbox_protocol="imap", mailbox_host=stack.host, mailbox_port=stack.imap_port,
                      mailbox_security="starttls", mailbox_cafile=stack.cafile, mailbox_user=NOREPLY,
                      mailbox_password=SecretStr(stack.users[NOREPLY]))  # fmt: skip
    env = worker_env(s) | {
        "BULKMAIL_MAILBOX_PROTOCOL": "imap", "BULKMAIL_MAILBOX_HOST": stack.host,
        "BULKMAIL_MAILBOX_PORT": str(stack.imap_port), "BULKMAIL_MAILBOX_SECURITY": "starttls",
        "BULKMAIL_MAILBOX_CAFILE": stack.cafile, "BULKMAIL_MAILBOX_USER": NOREPLY,
        "BULKMAIL_MAILBOX_PASSWORD": stack.users[NOREPLY], "BULKMAIL_SWEEP_PROCESSES": "2",
        "BULKMAIL_MAILBOX_BATCH": "500",
    }  # fmt: skip
    out = (work / f"sweep-{db}.log").open("ab")
    first = subprocess.Popen([sys.executable, "-m", "app", "sweep"], cwd=work, env=env, stdout=out, stderr=out)
    children: set[int] = set()

    def classifying() -> bool:
        children.update(descendants(first.pid))
        return len(children) >= 2 or first.poll() is not None

    wait(classifying, 120)
    time.sleep(1.0)
    children.update(descendants(first.pid))
    memory = sum(rss_mb(p) for p in children)
    log(f"kill -9 the sweep (pid {first.pid}) with {len(children)} child processes, {memory:.0f} MB")
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    time.sleep(3)
    orphans = [p for p in children if alive(p)]
    orphan_mb = sum(rss_mb(p) for p in orphans)
    second = subprocess.run([sys.executable, "-m", "app", "sweep"], cwd=work, env=env, capture_output=True,
                            text=True, timeout=600)  # fmt: skip
    for p in orphans:  # ours: started by the sweep this script ran
        with contextlib.suppress(ProcessLookupError):
            os.kill(p, signal.SIGKILL)
    engine = make_engine(url)
    with Session(engine) as session:
        rows = session.execute(select(MailboxSweep.id, MailboxSweep.state).order_by(MailboxSweep.id)).all()
    engine.dispose()
    row = {
        "scenario": f"sweep-kill ({db})",
        "children_before_kill": len(children),
        "orphans_after_kill": len(orphans),
        "orphan_rss_mb": round(orphan_mb),
        "killed_sweep_row": rows[0][1] if rows else "none",
        "next_sweep": second.stdout.strip().splitlines()[0] if second.stdout.strip() else second.stderr[-200:],
    }
    print(f"{row['scenario']}: " + ", ".join(f"{k} {v}" for k, v in row.items() if k != "scenario"), flush=True)
    return row


@contextlib.contextmanager
def own_cluster(needed: bool) -> Iterator[PgCluster | None]:
    if not needed:
        yield None
        return
    with PgCluster(name=f"bmbench{os.getpid()}") as cluster:
        log(f"PostgreSQL cluster {cluster.name} on port {cluster.port}")
        yield cluster


@contextlib.contextmanager
def own_stack(needed: bool) -> Iterator[MailStack | None]:
    if not needed:
        yield None
        return
    stack = start_free_stack("/tmp/bulkmail-faults-mailstack", 500)
    log(f"mail stack at {stack.root}, submission port {stack.submission_port}")
    try:
        yield stack
    finally:
        stack.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(SCENARIOS))
    args = parser.parse_args()
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(only) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(sorted(unknown))}; choose from {', '.join(SCENARIOS)}")
    rows = []
    with tempfile.TemporaryDirectory(prefix="bulkmail-faults-") as tmp:
        work = Path(tmp)
        work.chmod(0o755)
        with (
            own_cluster(bool({"db-pg", "sweep-kill"} & set(only))) as cluster,
            own_stack(bool({"relay-stop", "relay-throttle", "sweep-kill"} & set(only))) as stack,
        ):
            for name in only:
                print(f"== {name}", flush=True)
                if name == "db-pg":
                    assert cluster is not None
                    rows.append(db_pg(cluster, work))
                elif name == "db-sqlite":
                    rows.append(db_sqlite(work))
                elif name == "relay-stop":
                    assert stack is not None
                    rows.append(relay_stop(stack, work))
                elif name == "relay-throttle":
                    assert stack is not None
                    rows.append(relay_throttle(stack, work))
                elif name == "sweep-kill":
                    assert stack is not None
                    for db in ("sqlite", "postgresql"):
                        rows.append(sweep_kill(stack, work, db, cluster))
    print("\nsummary")
    for row in rows:
        print("  " + " | ".join(f"{k}={v}" for k, v in row.items()))


if __name__ == "__main__":
    main()

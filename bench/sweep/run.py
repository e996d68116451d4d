"""Bounce sweep throughput: N corpus bounces in the real Dovecot mailbox, a full sweep by `bulkmail sweep`
(IMAP and POP3) beside the floor, interleaved and repeated in the same run.

The floor: a raw client that fetches every message and deletes it (IMAP: `UID FETCH` and `UID STORE
+FLAGS.SILENT (\\Deleted)` per batch, one `EXPUNGE`; POP3: RETR, DELE, QUIT) and does nothing else. No
sweep that deletes what it processed can beat it by much, so floor ÷ sweep is what the sweep's own work
costs on top. Each repetition runs the floor and every sweep on the same messages (filled again, new
Message-IDs) and a fresh database; the order alternates between repetitions so a drift of the shared
machine's load falls on both. Also timed once per protocol: a raw fetch without deleting.

    .venv/bin/python bench/sweep/run.py [--messages 10000] [--db sqlite|postgresql] [--repeat 3]
        [--checkouts branch=.,main=/work/main]

Every sweep is the `bulkmail sweep` command of a checkout (`python -m app sweep`, its code on
PYTHONPATH) in its own process, so its wall time includes start-up, as a user waits for it; CPU time is
that process and its classifier processes (sampled from /proc every 50 ms), and Dovecot's beside it.
What the command printed is checked against the sweep's row, the bounce rows and the mailbox.

Every message is a corpus file (bounces, complaints, auto-replies from /work/shared/corpus/bounces/bsd)
with a new Message-ID and a Delivered-To: noreply+TOKEN@ naming its own delivery, so the sweep does
the full work per message: classify, VERP attribution, bounce row, delivery state, suppression policy,
commit, delete. Uses the test mail stack (tests/support/mailstack.py); needs root."""

import argparse
import glob
import imaplib
import os
import poplib
import re
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from email.utils import make_msgid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, insert, select, text  # noqa: E402
from sqlmodel import Session  # noqa: E402

from app.db import make_engine  # noqa: E402
from app.migrate import upgrade  # noqa: E402
from app.models import Bounce, Campaign, Delivery, MailboxSweep, utcnow  # noqa: E402
from app.tokens import make_token  # noqa: E402
from bounce_parsers import classify  # noqa: E402
from tests.support.mailstack import MailStack, start_free_stack  # noqa: E402

CORPUS = "/work/shared/corpus/bounces/bsd/*.eml"
NOREPLY = "noreply@example.test"
SECRET = "bench-secret"
# a database of its own, dropped and created again by every run (two runs at once need two names)
PG_BENCH = os.environ.get(
    "BULKMAIL_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/bulkmail_bench_sweep"
)
PG_ADMIN = PG_BENCH.rsplit("/", 1)[0] + "/postgres"
_MSGID = re.compile(rb"^Message-ID:.*(?:\r?\n[ \t].*)*\r?\n", re.I | re.M)


def corpus() -> list[bytes]:
    """The corpus mails the sweep handles (human/unrecognised ones would just be kept)."""
    mails = [Path(p).read_bytes() for p in sorted(glob.glob(CORPUS))]
    return [m for m in mails if classify(m).kind != "none"]


def database(kind: str, workdir: Path) -> str:
    if kind == "sqlite":
        return f"sqlite:///{workdir / 'bench.db'}"
    admin = make_engine(PG_ADMIN).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        name = PG_BENCH.rsplit("/", 1)[1]
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return PG_BENCH


def seed(url: str, count: int) -> list[str]:
    """A sent campaign with one delivery per message; returns each delivery's VERP token."""
    engine = make_engine(url)
    upgrade(engine)
    now = utcnow()
    with Session(engine) as session:
        campaign = Campaign(name="bench", from_address="news@example.test", subject="bench", state="completed")
        session.add(campaign)
        session.flush()
        session.execute(
            insert(Delivery),
            [
                {
                    "campaign_id": campaign.id,
                    "email": f"r{i}@remote.test",
                    "email_key": f"r{i}@remote.test",
                    "state": "sent",
                    "sent_at": now,
                    "attempts": 1,
                }  # fmt: skip
                for i in range(count)
            ],
        )
        ids = list(session.execute(select(Delivery.id).order_by(Delivery.id)).scalars())
        session.commit()
    engine.dispose()
    return [make_token(SECRET.encode(), "d", i) for i in ids]


def fill(stack: MailStack, mails: list[bytes], tokens: list[str]) -> None:
    stack.clear_mailboxes()
    for i, token in enumerate(tokens):
        raw = _MSGID.sub(b"", mails[i % len(mails)], count=1)
        head = f"Delivered-To: noreply+{token}@example.test\r\nMessage-ID: {make_msgid(domain='bench.test')}\r\n"
        stack.deliver(NOREPLY, head.encode() + raw)


def _ctx(stack: MailStack) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=stack.cafile)


def raw_imap(stack: MailStack, batch: int, delete: bool = False) -> tuple[int, float]:
    start = time.perf_counter()
    imap = imaplib.IMAP4(stack.host, stack.imap_port)
    imap.starttls(_ctx(stack))
    imap.login(NOREPLY, stack.users[NOREPLY])
    imap.select("INBOX")
    uids = imap.uid("SEARCH", "ALL")[1][0].split()
    got = 0
    for i in range(0, len(uids), batch):
        chunk = b",".join(uids[i : i + batch])
        data = imap.uid("FETCH", chunk, "(UID BODY.PEEK[])")[1]
        got += sum(1 for item in data if isinstance(item, tuple))
        if delete:
            imap.uid("STORE", chunk, "+FLAGS.SILENT", r"(\Deleted)")
    if delete:
        imap.expunge()
    imap.logout()
    return got, time.perf_counter() - start


def raw_pop3(stack: MailStack, delete: bool = False) -> tuple[int, float]:
    start = time.perf_counter()
    pop = poplib.POP3(stack.host, stack.pop3_port)
    pop.stls(_ctx(stack))
    pop.user(NOREPLY)
    pop.pass_(stack.users[NOREPLY])
    pop.uidl()
    count = len(pop.list()[1])
    for n in range(1, count + 1):
        pop.retr(n)
        if delete:
            pop.dele(n)
    pop.quit()
    return count, time.perf_counter() - start


def raw(stack: MailStack, protocol: str, batch: int, delete: bool = False) -> tuple[int, float]:
    return raw_imap(stack, batch, delete) if protocol == "imap" else raw_pop3(stack, delete)


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a live process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for task in os.listdir(f"/proc/{pid}/task") for c in _read(f"/proc/{pid}/task/{task}/children")]
    except OSError:
        return []


def _read(path: str) -> list[str]:
    try:
        return Path(path).read_text().split()
    except OSError:
        return []


class CpuMeter:
    """CPU seconds the process trees under ROOTS spend while it runs: the trees are sampled from /proc
    every 50 ms and every process counted by its last sample (one that lives < 50 ms is missed, and
    so is a process's last 50 ms); a process already there at the start counts from then on."""

    def __init__(self, roots: list[int]) -> None:
        self.roots = roots
        self.start: dict[int, float] = {}
        self.last: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self, first: bool = False) -> None:
        todo = list(self.roots)
        while todo:
            pid = todo.pop()
            if (cpu := _cpu_seconds(pid)) is None:
                continue
            if first:
                self.start[pid] = cpu
            self.last[pid] = cpu
            todo.extend(_children(pid))

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self._sample()

    def __enter__(self) -> "CpuMeter":
        self._sample(first=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    @property
    def seconds(self) -> float:
        return sum(cpu - self.start.get(pid, 0.0) for pid, cpu in self.last.items())


def dovecot_pid(stack: MailStack) -> int:
    return int((stack.dovecot_run / "master.pid").read_text().split()[0])


def warm(stack: MailStack) -> None:
    """Let Dovecot index the new Maildir once, so neither timed run pays for it."""
    imap = imaplib.IMAP4(stack.host, stack.imap_port)
    imap.login(NOREPLY, stack.users[NOREPLY])
    imap.select("INBOX")
    imap.uid("FETCH", "1:*", "(UID RFC822.SIZE)")
    imap.logout()


@dataclass
class Run:
    wall: float
    cpu: float  # the client's: the raw client, or bulkmail's processes
    dovecot_cpu: float
    inside: float = 0.0  # a sweep's own time, from its row (start-up and migrations check left out)
    note: str = ""


def floor(stack: MailStack, protocol: str, batch: int) -> Run:
    cpu0 = time.thread_time()  # the raw client runs in this thread; the meter's own thread is left out
    with CpuMeter([dovecot_pid(stack)]) as dovecot:
        _, wall = raw(stack, protocol, batch, delete=True)
    return Run(wall, time.thread_time() - cpu0, dovecot.seconds)


_PRINTED = re.compile(
    r"sweep (\d+) (\w+): seen (\d+), recorded (\d+), deleted (\d+), kept (\d+), errors (\d+)\n"
    r"(?:  kinds:  (.*)\n)?(?:  layers: (.*)\n)?"
)


def sweep(stack: MailStack, url: str, protocol: str, batch: int, checkout: Path) -> Run:
    """`bulkmail sweep` of CHECKOUT in its own process; what it prints checked against the database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BULKMAIL_")}
    env |= {
        "PYTHONPATH": str(checkout), "BULKMAIL_DATABASE_URL": url, "BULKMAIL_SECRET_KEY": SECRET,
        "BULKMAIL_BOUNCE_ADDRESS": NOREPLY, "BULKMAIL_MAILBOX_PROTOCOL": protocol,
        "BULKMAIL_MAILBOX_HOST": stack.host,
        "BULKMAIL_MAILBOX_PORT": str(stack.imap_port if protocol == "imap" else stack.pop3_port),
        "BULKMAIL_MAILBOX_SECURITY": "starttls", "BULKMAIL_MAILBOX_USER": NOREPLY,
        "BULKMAIL_MAILBOX_PASSWORD": stack.users[NOREPLY], "BULKMAIL_MAILBOX_CAFILE": stack.cafile,
        "BULKMAIL_MAILBOX_BATCH": str(batch),
    }  # fmt: skip
    with tempfile.TemporaryDirectory() as cwd, CpuMeter([dovecot_pid(stack)]) as dovecot, CpuMeter([]) as own:
        start = time.perf_counter()
        child = subprocess.Popen(
            [sys.executable, "-m", "app", "sweep"], cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        own.roots.append(child.pid)
        out, err = child.communicate()
        wall = time.perf_counter() - start
    printed = _PRINTED.match(out.decode())
    assert child.returncode == 0 and printed, (child.returncode, out.decode(), err.decode()[-2000:])
    engine = make_engine(url)
    with Session(engine) as session:
        row = session.get(MailboxSweep, int(printed.group(1)))
        bounces = session.execute(select(func.count()).select_from(Bounce)).scalar_one()
    engine.dispose()
    assert row is not None
    left = len(stack.messages(NOREPLY))
    shown = tuple(int(printed.group(i)) for i in range(3, 8))
    stored = (row.seen, row.recorded, row.deleted, row.kept, row.errors)
    layers = ", ".join(f"{k} {v}" for k, v in sorted(row.per_layer.items()))
    assert printed.group(2) == row.state == "done" and shown == stored, (out.decode(), stored)
    assert printed.group(9) == layers and row.seen - row.deleted - row.kept == left, (out.decode(), left)
    note = f"printed: seen {shown[0]}, recorded {shown[1]}, deleted {shown[2]}, kept {shown[3]}, errors {shown[4]}; "
    note += f"layers {layers}; {bounces} bounce rows, {left} left in the mailbox (all match)"
    assert row.finished_at is not None
    inside = (row.finished_at - row.started_at).total_seconds()
    return Run(wall, own.seconds, dovecot.seconds, inside, note)


def _spread(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} ({min(values):.2f}–{max(values):.2f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--protocols", default="imap,pop3")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--checkouts", default=f"bulkmail={ROOT}", help="label=path,... : whose `bulkmail sweep`")
    args = parser.parse_args()
    checkouts = [(label, Path(path).resolve()) for label, path in (c.split("=", 1) for c in args.checkouts.split(","))]
    mails = corpus()
    print(f"{len(mails)} corpus mails, {args.messages} messages, db {args.db}, batch {args.batch}, "
          f"{args.repeat} repetitions, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f} at the start")  # fmt: skip
    stack = start_free_stack("/tmp/bulkmail-bench-sweep", port_offset=200)
    workdir = Path(tempfile.mkdtemp(prefix="bench-sweep-"))
    try:
        for protocol in args.protocols.split(","):
            url = _fresh(args.db, workdir)
            tokens = seed(url, args.messages)
            fill(stack, mails, tokens)
            warm(stack)
            n_raw, t_raw = raw(stack, protocol, args.batch)
            print(f"{protocol}: raw fetch (no delete) {n_raw} in {t_raw:.2f}s")
            ratios: dict[str, list[float]] = {label: [] for label, _ in checkouts}
            inner: dict[str, list[float]] = {label: [] for label, _ in checkouts}
            runs: dict[str, list[Run]] = {label: [] for label in ["floor", *ratios]}
            for rep in range(args.repeat):
                order = ["floor", *ratios] if rep % 2 == 0 else [*ratios, "floor"]
                for who in order:
                    fill(stack, mails, tokens)
                    warm(stack)
                    if who == "floor":
                        run = floor(stack, protocol, args.batch)
                    else:
                        run = sweep(stack, url, protocol, args.batch, dict(checkouts)[who])
                        url = _fresh(args.db, workdir)  # the next sweep records everything anew
                        tokens = seed(url, args.messages)
                    runs[who].append(run)
                    inside = f" (the sweep itself {run.inside:.2f}s)" if run.inside else ""
                    print(f"  {rep + 1} {who:>10}: {run.wall:6.2f}s wall{inside}, CPU {run.cpu:5.2f}s, Dovecot CPU "
                          f"{run.dovecot_cpu:5.2f}s, load {os.getloadavg()[0]:.1f}  {run.note}", flush=True)  # fmt: skip
                for label in ratios:
                    ratios[label].append(runs["floor"][-1].wall / runs[label][-1].wall)
                    inner[label].append(runs["floor"][-1].wall / runs[label][-1].inside)
            print(f"{protocol}, {args.db}, median (min–max) over {args.repeat}:")
            for who, got in runs.items():
                line = f"  {who:>10}: wall {_spread([r.wall for r in got])} s, CPU {_spread([r.cpu for r in got])} s, "
                line += f"Dovecot CPU {_spread([r.dovecot_cpu for r in got])} s"
                if who in ratios:
                    line += f"; {args.messages / statistics.median(r.wall for r in got):.0f} msgs/s; "
                    line += f"floor ÷ sweep, same repetition: {_spread(ratios[who])} as `bulkmail sweep`, "
                    line += f"{_spread(inner[who])} for the sweep itself"
                print(line, flush=True)
    finally:
        stack.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def _fresh(kind: str, workdir: Path) -> str:
    """A new, empty database (a SQLite file in a new directory, or the PostgreSQL bench database)."""
    if kind == "postgresql":
        return database(kind, workdir)
    where = Path(tempfile.mkdtemp(dir=workdir))
    return database("sqlite", where)


if __name__ == "__main__":
    main()

"""Bounce sweep throughput: N corpus bounces in the real Dovecot mailbox, a full sweep over IMAP and over
POP3, each beside a raw fetch of the same mailbox (imaplib / poplib) in the same run.

Also in the same run, the floor: a raw client that fetches every message and deletes it (IMAP: STORE
\\Deleted per batch, one EXPUNGE; POP3: RETR, DELE, QUIT) without classifying or recording anything.
No sweep that deletes what it processed can beat it, so raw fetch ÷ floor is the highest ratio this
server allows, and floor ÷ sweep is what the sweep's own work costs on top.

    .venv/bin/python bench/sweep/run.py [--messages 10000] [--db sqlite|postgresql]

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
import sys
import tempfile
import time
from email.utils import make_msgid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from pydantic import SecretStr  # noqa: E402
from sqlalchemy import func, insert, select, text  # noqa: E402
from sqlmodel import Session  # noqa: E402

from app.bounces.mailbox import ImapMailbox, Pop3Mailbox  # noqa: E402
from app.bounces.sweep import run_sweep  # noqa: E402
from app.db import make_engine  # noqa: E402
from app.migrate import upgrade  # noqa: E402
from app.models import Bounce, Campaign, Delivery, utcnow  # noqa: E402
from app.settings import Settings  # noqa: E402
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


def busy_cores() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine: the sweep's own CPU plus Dovecot's and the database's."""
    fields = [int(f) for f in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return sum(fields) - fields[3] - fields[4], sum(fields)


def warm(stack: MailStack) -> None:
    """Let Dovecot index the new Maildir once, so neither timed run pays for it."""
    imap = imaplib.IMAP4(stack.host, stack.imap_port)
    imap.login(NOREPLY, stack.users[NOREPLY])
    imap.select("INBOX")
    imap.uid("FETCH", "1:*", "(UID RFC822.SIZE)")
    imap.logout()


class _TimedClose:
    """Times the mailbox's final close(commit=True): the server deleting everything (EXPUNGE / QUIT)."""

    seconds = 0.0

    def __init__(self, cls: type) -> None:
        self.cls, self.original = cls, cls.close

    def __enter__(self) -> "_TimedClose":
        timer, original = self, self.original

        def close(box, commit: bool) -> None:  # type: ignore[no-untyped-def]
            start = time.perf_counter()
            try:
                original(box, commit)
            finally:
                timer.seconds += time.perf_counter() - start

        self.cls.close = close
        return self

    def __exit__(self, *exc: object) -> None:
        self.cls.close = self.original


def sweep(stack: MailStack, url: str, protocol: str, batch: int) -> tuple[int, float, str]:
    settings = Settings(
        _env_file=None, database_url=url, secret_key=SecretStr(SECRET), bounce_address=NOREPLY,
        mailbox_protocol=protocol, mailbox_host=stack.host,
        mailbox_port=stack.imap_port if protocol == "imap" else stack.pop3_port, mailbox_security="starttls",
        mailbox_user=NOREPLY, mailbox_password=SecretStr(stack.users[NOREPLY]), mailbox_cafile=stack.cafile,
        mailbox_batch=batch,
    )  # fmt: skip
    engine = make_engine(url)
    with _TimedClose(ImapMailbox if protocol == "imap" else Pop3Mailbox) as closing:
        start = time.perf_counter()
        result = run_sweep(settings, engine, trigger="cli")
        elapsed = time.perf_counter() - start
    assert result is not None and result.state == "done", result and result.error
    with Session(engine) as session:
        bounces = session.execute(select(func.count()).select_from(Bounce)).scalar_one()
    engine.dispose()
    summary = f"server-side delete at close {closing.seconds:.2f}s; seen {result.seen}, recorded {result.recorded}, deleted {result.deleted}, kept {result.kept}, " \
              f"bounce rows {bounces}, layers {result.per_layer}"  # fmt: skip
    return result.seen, elapsed, summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--protocols", default="imap,pop3")
    args = parser.parse_args()
    mails = corpus()
    print(f"{len(mails)} corpus mails, {args.messages} messages, db {args.db}, batch {args.batch}")
    stack = start_free_stack("/tmp/bulkmail-bench-sweep", port_offset=200)
    workdir = Path(tempfile.mkdtemp(prefix="bench-sweep-"))
    try:
        for protocol in args.protocols.split(","):
            url = database(args.db, workdir / protocol) if args.db == "postgresql" else None
            if url is None:
                (workdir / protocol).mkdir()
                url = database("sqlite", workdir / protocol)
            tokens = seed(url, args.messages)
            fill(stack, mails, tokens)
            warm(stack)
            n_raw, t_raw = raw(stack, protocol, args.batch)
            _, t_floor = raw(stack, protocol, args.batch, delete=True)
            fill(stack, mails, tokens)
            warm(stack)
            busy0, total0 = busy_cores()
            n, t, summary = sweep(stack, url, protocol, args.batch)
            busy1, total1 = busy_cores()
            left = len(stack.messages(NOREPLY))
            print(f"{protocol}: raw fetch {n_raw} in {t_raw:.2f}s = {n_raw / t_raw:.0f} msgs/s; "
                  f"sweep {n} in {t:.2f}s = {n / t:.0f} msgs/s; ratio {t_raw / t:.2f}; left in mailbox {left}")  # fmt: skip
            print(f"  floor (raw fetch + delete, nothing else) {t_floor:.2f}s: highest reachable ratio {t_raw / t_floor:.2f}; "
                  f"sweep = {t_floor / t:.2f} of the floor's speed; machine busy {100 * (busy1 - busy0) / (total1 - total0):.0f} % "
                  f"of {os.cpu_count()} cores during the sweep")  # fmt: skip
            print(f"  {summary}")
    finally:
        stack.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()

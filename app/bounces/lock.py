"""One sweep at a time across every process and machine.

PostgreSQL: a session advisory lock on a dedicated autocommit connection; the server drops it when
the connection dies, so a crashed sweeper never blocks the next one. SQLite (one machine): a JobLock
lease row that the holder renews while it works and that anyone may take over once it expires, or at
once when its holder (host, pid and the process's start time) is a process of this host that is gone.

Whoever holds the lock is the only sweep that runs: a sweep row still `running` then belongs to a
sweeper that lost it (killed, or cut off from the database) and is marked `abandoned`."""

import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Connection, Engine, delete, select, text
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, col

from app.db import is_sqlite
from app.models import JobLock, utcnow

SWEEP_LOCK = "bounce-sweep"
# pg advisory locks take a bigint; a fixed constant derived from the name keeps it readable in pg_locks
_PG_KEY = int.from_bytes(SWEEP_LOCK.encode()[:8], "big") & 0x7FFF_FFFF_FFFF_FFFF
LEASE = timedelta(minutes=10)


class LeaseLost(RuntimeError):
    """Another process took the lock over: stop before doing more work."""


def this_process() -> str:
    """'host:pid' of the running process, as the sweep log shows a sweep's owner."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _started(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (tells a reused pid apart), or None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rpartition(")")[2].split()[19]


def _holder_gone(holder: str) -> bool:
    """Is this lease holder ('host:pid:start:token') a process of this host that has ended?
    Holders on other hosts, or in another form, can only expire."""
    parts = holder.rsplit(":", 3)
    if len(parts) != 4:
        return False
    host, pid, start, _token = parts
    if host != socket.gethostname() or not pid.isdigit() or not start.isdigit():
        return False
    return _started(int(pid)) != start


class JobLease:
    def __init__(self, engine: Engine, name: str) -> None:
        self.engine = engine
        self.name = name
        self.holder = f"{this_process()}:{_started(os.getpid()) or ''}:{uuid.uuid4().hex[:8]}"

    def acquire(self) -> bool:
        now = utcnow()
        with Session(self.engine) as session, session.begin():
            row = session.get(JobLock, self.name)
            if row is not None and row.holder != self.holder and row.expires_at > now and not _holder_gone(row.holder):
                return False
            if row is None:
                session.add(JobLock(name=self.name, holder=self.holder, expires_at=now + LEASE))
            else:
                row.holder, row.expires_at = self.holder, now + LEASE
        return True

    def renew(self) -> None:
        with Session(self.engine) as session, session.begin():
            row = session.get(JobLock, self.name)
            if row is None or row.holder != self.holder:
                raise LeaseLost(f"lock {self.name!r} was taken over by {row.holder if row else 'nobody'}")
            row.expires_at = utcnow() + LEASE

    def release(self) -> None:
        with Session(self.engine) as session, session.begin():
            session.execute(delete(JobLock).where(col(JobLock.name) == self.name, col(JobLock.holder) == self.holder))


class AdvisoryLock:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._conn: Connection | None = None

    def acquire(self) -> bool:
        conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        if conn.execute(select(text(f"pg_try_advisory_lock({_PG_KEY})"))).scalar():
            self._conn = conn
            return True
        conn.close()
        return False

    def renew(self) -> None:
        """Held for as long as the connection lives: check that it still does."""
        assert self._conn is not None
        try:
            self._conn.execute(select(text("1")))
        except Exception as exc:
            raise LeaseLost("the database connection that held the sweep lock was lost") from exc

    def release(self) -> None:
        if self._conn is not None:
            with suppress(DBAPIError):  # a lost connection has released the lock already
                self._conn.execute(text(f"SELECT pg_advisory_unlock({_PG_KEY})"))
            self._conn.close()
            self._conn = None


@contextmanager
def sweep_lock(engine: Engine) -> Iterator[JobLease | AdvisoryLock | None]:
    """The held lock (call .renew() between batches), or None when another sweep holds it."""
    lock: JobLease | AdvisoryLock = JobLease(engine, SWEEP_LOCK) if is_sqlite(engine) else AdvisoryLock(engine)
    if not lock.acquire():
        yield None
        return
    try:
        yield lock
    finally:
        lock.release()

"""The sending workers' heartbeats: each renews its row every HEARTBEAT_SECONDS while its loop turns, so
/metrics shows when each was last seen and how many are alive, on every machine."""

from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import col

from app.db import is_postgresql, session_scope
from app.models import WorkerHeartbeat

HEARTBEAT_SECONDS = 10.0
ALIVE_SECONDS = 60.0  # a worker not seen for this long counts as gone (a slow relay still lets it beat)
FORGOTTEN_AFTER = timedelta(days=1)  # rows of workers killed without a goodbye are removed after this


def beat(engine: Engine, worker: str, started_at: datetime, now: datetime) -> None:
    with session_scope(engine) as session:
        insert = pg_insert if is_postgresql(session) else sqlite_insert
        stmt = insert(WorkerHeartbeat).values(worker=worker, started_at=started_at, seen_at=now)
        session.execute(stmt.on_conflict_do_update(index_elements=["worker"], set_={"seen_at": now}))
        session.execute(delete(WorkerHeartbeat).where(col(WorkerHeartbeat.seen_at) < now - FORGOTTEN_AFTER))


def forget(engine: Engine, worker: str) -> None:
    """The worker stopped on purpose: it is no longer expected to beat."""
    with session_scope(engine) as session:
        session.execute(delete(WorkerHeartbeat).where(col(WorkerHeartbeat.worker) == worker))


def last_seen(engine: Engine) -> list[tuple[str, datetime]]:
    with session_scope(engine) as session:
        rows = session.execute(select(col(WorkerHeartbeat.worker), col(WorkerHeartbeat.seen_at))).tuples().all()
    return [(w, at) for w, at in rows]

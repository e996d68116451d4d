"""Idempotency records: the first request with an (API key, Idempotency-Key) pair claims it, its response
is kept for a day, and the same pair again finds it. The middleware in app/api/idempotency.py uses them."""

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Engine, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from app.db import session_scope
from app.models import IdempotencyRecord, utcnow

TTL = timedelta(hours=24)


@dataclass(frozen=True)
class Begun:
    record_id: int | None = None  # the new record: run the request
    replay: IdempotencyRecord | None = None
    conflict: str | None = None  # "running" | "mismatch"


def begin(engine: Engine, key_id: int, key: str, method: str, path: str, digest: str) -> Begun:
    now = utcnow()
    with Session(engine, expire_on_commit=False) as session:
        session.execute(
            delete(IdempotencyRecord).where(
                col(IdempotencyRecord.api_key_id) == key_id,
                col(IdempotencyRecord.key) == key,
                col(IdempotencyRecord.created_at) < now - TTL,
            )
        )
        record = IdempotencyRecord(
            api_key_id=key_id, key=key, method=method, path=path, request_hash=digest, created_at=now
        )
        session.add(record)
        try:
            session.commit()
            return Begun(record_id=record.id)
        except IntegrityError:
            session.rollback()
        found = session.execute(
            select(IdempotencyRecord).where(
                col(IdempotencyRecord.api_key_id) == key_id, col(IdempotencyRecord.key) == key
            )
        ).scalar_one()
    if (found.method, found.path, found.request_hash) != (method, path, digest):
        return Begun(conflict="mismatch")
    if found.status_code is None:
        return Begun(conflict="running")
    return Begun(replay=found)


def finish(engine: Engine, record_id: int, status: int, content_type: str | None, body: bytes) -> None:
    with Session(engine) as session:
        if status >= 500:
            session.execute(delete(IdempotencyRecord).where(col(IdempotencyRecord.id) == record_id))
        else:
            session.execute(
                update(IdempotencyRecord)
                .where(col(IdempotencyRecord.id) == record_id)
                .values(status_code=status, content_type=content_type, body=body.decode("utf-8", "replace"))
            )
        session.commit()


def forget(engine: Engine, record_id: int) -> None:
    with Session(engine) as session:
        session.execute(delete(IdempotencyRecord).where(col(IdempotencyRecord.id) == record_id))
        session.commit()


def purge(engine: Engine) -> None:
    """Forget the records older than TTL."""
    now = utcnow()
    with session_scope(engine) as session:
        session.execute(delete(IdempotencyRecord).where(col(IdempotencyRecord.created_at) < now - TTL))

"""Scheduler jobs: send due webhooks; forget idempotency records after a day."""

from datetime import timedelta

from apscheduler.schedulers.base import BaseScheduler
from sqlalchemy import Engine, delete
from sqlmodel import col

from app.db import session_scope
from app.models import IdempotencyRecord, utcnow
from app.settings import Settings
from app.webhooks.dispatch import dispatch_due

IDEMPOTENCY_TTL = timedelta(hours=24)


def purge_idempotency_records(engine: Engine) -> None:
    now = utcnow()
    with session_scope(engine) as session:
        session.execute(delete(IdempotencyRecord).where(col(IdempotencyRecord.created_at) < now - IDEMPOTENCY_TTL))


def add_jobs(scheduler: BaseScheduler, settings: Settings, engine: Engine) -> None:
    scheduler.add_job(dispatch_due, "interval", seconds=settings.webhook_poll_seconds, args=[settings, engine],
                      id="webhooks.dispatch")  # fmt: skip
    scheduler.add_job(purge_idempotency_records, "interval", minutes=10, args=[engine], id="api.idempotency_purge")

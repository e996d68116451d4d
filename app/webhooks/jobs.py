"""Scheduler jobs: send due webhooks; forget idempotency records after a day."""

from apscheduler.schedulers.base import BaseScheduler
from sqlalchemy import Engine

from app import idempotency
from app.settings import Settings
from app.webhooks.dispatch import dispatch_due


def add_jobs(scheduler: BaseScheduler, settings: Settings, engine: Engine) -> None:
    scheduler.add_job(
        dispatch_due, "interval", seconds=settings.webhook_poll_seconds, args=[settings, engine], id="webhooks.dispatch"
    )
    scheduler.add_job(idempotency.purge, "interval", minutes=10, args=[engine], id="api.idempotency_purge")

"""Scheduler jobs, in the background process (never in the web server, whose CPU goes to answering the
hits): settle the hits old enough to judge, and fold the ledger's per-state and per-domain counts
PostgreSQL's triggers append."""

from apscheduler.schedulers.base import BaseScheduler
from sqlalchemy import Engine
from sqlmodel import Session

from app.db import is_postgresql
from app.sending import state_counts
from app.settings import Settings
from app.tracking.settle import settle_due

SETTLE_SECONDS = 2
FOLD_MINUTES = 1


def fold_counts(engine: Engine) -> None:
    with Session(engine) as session:
        if is_postgresql(session):
            state_counts.fold(session)


def add_jobs(scheduler: BaseScheduler, settings: Settings, engine: Engine) -> None:
    scheduler.add_job(settle_due, "interval", seconds=SETTLE_SECONDS, args=[engine, settings], id="tracking.settle")
    scheduler.add_job(fold_counts, "interval", minutes=FOLD_MINUTES, args=[engine], id="tracking.fold")

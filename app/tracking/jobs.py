"""Scheduler jobs, in the background process (never in the web server, whose CPU goes to answering the
hits): settle the hits old enough to judge; keep large campaigns' per-domain report counts fresh, and fold
the ledger's per-state counts PostgreSQL's triggers append."""

from apscheduler.schedulers.base import BaseScheduler
from sqlalchemy import Engine
from sqlmodel import Session

from app.db import is_postgresql
from app.models import utcnow
from app.sending import state_counts
from app.settings import Settings
from app.tracking.report import refresh_due_domains
from app.tracking.settle import settle_due

SETTLE_SECONDS = 2
DOMAINS_MINUTES = 1


def refresh_domains(engine: Engine) -> None:
    with Session(engine) as session:
        refresh_due_domains(session, utcnow())
        if is_postgresql(session):
            state_counts.fold(session)


def add_jobs(scheduler: BaseScheduler, settings: Settings, engine: Engine) -> None:
    scheduler.add_job(settle_due, "interval", seconds=SETTLE_SECONDS, args=[engine, settings], id="tracking.settle")
    scheduler.add_job(refresh_domains, "interval", minutes=DOMAINS_MINUTES, args=[engine], id="tracking.domains")

"""Scheduler jobs for bounces: a tick every minute that sweeps when the sweep interval has passed."""

from apscheduler.schedulers.base import BaseScheduler
from sqlalchemy import Engine

from app.bounces.sweep import sweep_if_due
from app.models import utcnow
from app.settings import Settings


def _tick(settings: Settings, engine: Engine) -> None:
    sweep_if_due(settings, engine, utcnow())


def add_jobs(scheduler: BaseScheduler, settings: Settings, engine: Engine) -> None:
    """Every process ticks; the interval and mailbox are read from the saved settings at each tick,
    and the database lock makes only one process sweep at a time."""
    scheduler.add_job(_tick, "interval", minutes=1, args=(settings, engine), id="bounce-sweep", replace_existing=True)

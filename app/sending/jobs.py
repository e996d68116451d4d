"""Scheduler jobs for sending."""

from apscheduler.schedulers.base import BaseScheduler
from sqlalchemy import Engine

from app.settings import Settings


def add_jobs(scheduler: BaseScheduler, settings: Settings, engine: Engine) -> None:
    """Register this part's periodic jobs."""

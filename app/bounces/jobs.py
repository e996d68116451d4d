"""Scheduler jobs for bounces: the mailbox sweep every `sweep_interval_minutes`."""

from apscheduler.schedulers.base import BaseScheduler
from sqlalchemy import Engine

from app.bounces.sweep import scheduled_sweep
from app.config_store import effective_settings
from app.settings import Settings


def add_jobs(scheduler: BaseScheduler, settings: Settings, engine: Engine) -> None:
    """Register this part's periodic jobs. Every process registers the sweep; the database lock
    makes only one of them run it at a time."""
    live = effective_settings(settings, engine)  # the settings page's mailbox and interval (read at start)
    if not live.mailbox_host or live.sweep_interval_minutes <= 0:
        return  # no mailbox configured, or sweeping switched off
    scheduler.add_job(
        scheduled_sweep,
        "interval",
        minutes=live.sweep_interval_minutes,
        args=(settings, engine),
        id="bounce-sweep",
        replace_existing=True,
    )

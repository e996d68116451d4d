"""The scheduler's automation sweep: entries, exits and due steps, every minute."""

import logging

from apscheduler.schedulers.base import BaseScheduler
from sqlalchemy import Engine

from app.automations.advance import sweep
from app.settings import Settings

log = logging.getLogger(__name__)

SWEEP_SECONDS = 60


def _sweep(engine: Engine) -> None:
    swept = sweep(engine)
    if swept.entered or swept.exited or swept.advanced:
        log.info("automations: %s entered, %s left, %s moved on", swept.entered, swept.exited, swept.advanced)


def add_jobs(scheduler: BaseScheduler, settings: Settings, engine: Engine) -> None:
    scheduler.add_job(
        _sweep, "interval", seconds=SWEEP_SECONDS, args=(engine,), id="automation-sweep", replace_existing=True
    )

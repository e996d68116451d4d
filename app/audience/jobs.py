"""Scheduler job for the audience: finish imports whose process died (a restart mid-import)."""

import logging

from apscheduler.schedulers.base import BaseScheduler
from sqlalchemy import Engine

from app.audience.importer import resume_stalled
from app.audience.search import index_missing
from app.settings import Settings

log = logging.getLogger(__name__)

# how often the service makes contacts searchable that a big import (the CLI's, or one a dead process left)
# did not index in its own transaction
INDEX_EVERY_MINUTES = 2


def _resume(settings: Settings, engine: Engine) -> None:
    resumed = resume_stalled(engine, settings)
    for job_id in resumed:
        log.info("resumed import %s", job_id)
    if resumed:
        index_missing(engine)


def _index(engine: Engine) -> None:
    count = index_missing(engine)
    if count:
        log.info("indexed %s contacts for search", count)


def add_jobs(scheduler: BaseScheduler, settings: Settings, engine: Engine) -> None:
    """Every process looks once a minute; the claim in the database makes one of them take each job."""
    scheduler.add_job(
        _resume, "interval", minutes=1, args=(settings, engine), id="resume-imports", replace_existing=True
    )
    scheduler.add_job(
        _index, "interval", minutes=INDEX_EVERY_MINUTES, args=(engine,), id="index-contacts", replace_existing=True
    )

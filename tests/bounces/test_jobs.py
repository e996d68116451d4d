"""The sweep is a scheduler job once a mailbox is configured."""

from datetime import timedelta

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import Engine

from app.bounces.jobs import add_jobs
from app.settings import Settings


def test_the_scheduler_runs_the_sweep_every_interval(settings: Settings, engine: Engine) -> None:
    scheduler = BackgroundScheduler(timezone="UTC")
    add_jobs(scheduler, settings, engine)
    assert scheduler.get_job("bounce-sweep") is None, "no mailbox configured: no job"
    add_jobs(scheduler, settings.model_copy(update={"mailbox_host": "127.0.0.1", "sweep_interval_minutes": 7}), engine)
    job = scheduler.get_job("bounce-sweep")
    assert job is not None and job.trigger.interval == timedelta(minutes=7)

"""APScheduler jobs that every bulkmail process runs; the jobs themselves take database locks
where only one may run at a time across processes."""

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import Engine

from app.settings import Settings


def build_scheduler(settings: Settings, engine: Engine) -> BackgroundScheduler:
    scheduler = BackgroundScheduler(timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1})
    return scheduler

"""APScheduler jobs that every bulkmail process runs; jobs that must run once at a time across
processes take a database lock themselves."""

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import Engine

from app.audience import jobs as audience_jobs
from app.automations import jobs as automation_jobs
from app.bounces import jobs as bounce_jobs
from app.sending import jobs as sending_jobs
from app.settings import Settings
from app.subscription import jobs as subscription_jobs
from app.tracking import jobs as tracking_jobs
from app.webhooks import jobs as webhook_jobs


def build_scheduler(settings: Settings, engine: Engine) -> BackgroundScheduler:
    scheduler = BackgroundScheduler(timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1})
    sending_jobs.add_jobs(scheduler, settings, engine)
    bounce_jobs.add_jobs(scheduler, settings, engine)
    audience_jobs.add_jobs(scheduler, settings, engine)
    webhook_jobs.add_jobs(scheduler, settings, engine)
    subscription_jobs.add_jobs(scheduler, settings, engine)
    tracking_jobs.add_jobs(scheduler, settings, engine)
    automation_jobs.add_jobs(scheduler, settings, engine)
    return scheduler

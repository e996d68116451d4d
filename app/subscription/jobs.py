"""Scheduler jobs for signups: carry out the signups the form and the API took, then send the due
confirmation and welcome mails; purge unconfirmed signups."""

import logging

from apscheduler.schedulers.base import BaseScheduler
from sqlalchemy import Engine

from app.config_store import live_settings
from app.settings import Settings
from app.subscription.mail import send_due
from app.subscription.signup import purge_unconfirmed, take_requests

log = logging.getLogger(__name__)

PURGE_EVERY_MINUTES = 60


def _send(settings: Settings, engine: Engine) -> None:
    taken = take_requests(engine)
    if taken:
        log.info("carried out %s signups", taken)
    sent = send_due(engine, live_settings(settings, engine))
    if sent:
        log.info("sent %s signup mails", sent)


def _purge(settings: Settings, engine: Engine) -> None:
    purged = purge_unconfirmed(engine, live_settings(settings, engine))
    if purged:
        log.info("purged %s unconfirmed signups", purged)


def add_jobs(scheduler: BaseScheduler, settings: Settings, engine: Engine) -> None:
    scheduler.add_job(
        _send,
        "interval",
        seconds=settings.signup_mail_poll_seconds,
        args=(settings, engine),
        id="signup-mail",
        replace_existing=True,
    )
    scheduler.add_job(
        _purge,
        "interval",
        minutes=PURGE_EVERY_MINUTES,
        args=(settings, engine),
        id="signup-purge",
        replace_existing=True,
    )

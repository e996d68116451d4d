"""Scheduler jobs for sending: pick the winners of A/B tests whose waiting time is over."""

import logging

from apscheduler.schedulers.base import BaseScheduler
from sqlalchemy import Engine

from app.db import session_scope
from app.models import utcnow
from app.sending import abtest
from app.settings import Settings

log = logging.getLogger(__name__)
WINNER_SECONDS = 30


def pick_winners(engine: Engine) -> dict[int, int]:
    """Send each finished A/B test's leading variant to the rest of its audience."""
    with session_scope(engine) as session:
        won = abtest.decide_due(session, utcnow())
    if won:
        log.info("A/B test winners chosen: %s", won)
    return won


def add_jobs(scheduler: BaseScheduler, settings: Settings, engine: Engine) -> None:
    """Register this part's periodic jobs."""
    scheduler.add_job(pick_winners, "interval", seconds=WINNER_SECONDS, args=[engine], id="sending.ab_winners")

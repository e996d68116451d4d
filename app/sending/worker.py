"""The sending worker: claim due ledger rows, compose their messages, hand them to the sender
threads, record the results; start scheduled campaigns and close finished ones.

Two batches are in flight at most (one being sent while the next is composed), so after a kill -9
at most 2 x worker_batch recipients can get a second copy; every other row is sent exactly once."""

import logging
import os
import socket
import threading
import uuid
from collections import deque
from datetime import datetime, timedelta

from sqlalchemy import Engine, select
from sqlmodel import Session

from app.config_store import effective_settings
from app.db import session_scope
from app.models import Campaign, utcnow
from app.secret_key import get_secret_key
from app.sending import ledger
from app.sending.campaigns import start_due_scheduled
from app.sending.compose import Composer
from app.sending.dkim_sign import DkimSigner
from app.sending.ledger import Outcome
from app.sending.pool import JOBS_PER_HANDOFF, Batch, Job, SenderPool
from app.sending.render import RenderFailed
from app.settings import Settings

log = logging.getLogger(__name__)

MAX_BATCHES_IN_FLIGHT = 2
# a relay that stays unreachable this many batches in a row pauses its campaigns, so the user sees why
RELAY_DOWN_PAUSE_AFTER = 5


def worker_id() -> str:
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Worker:
    def __init__(self, settings: Settings, engine: Engine, pool: SenderPool | None = None) -> None:
        self.settings, self.engine = settings, engine
        self.owner = worker_id()
        self.secret = get_secret_key(settings, engine)
        self.signer = DkimSigner.from_settings(settings)
        self.pool = pool or SenderPool(settings)
        self._composers: dict[int, tuple[datetime, Composer]] = {}
        self._down_batches = 0
        self._inflight: deque[Batch] = deque()

    def run(self, stop: threading.Event) -> None:
        inflight = self._inflight
        try:
            while not stop.is_set():
                if inflight and (len(inflight) >= MAX_BATCHES_IN_FLIGHT or inflight[0].done()):
                    self._finish(inflight[0])
                    continue
                batch = self._claim_and_submit()
                if batch is not None:
                    inflight.append(batch)
                elif inflight:
                    self._finish(inflight[0])
                else:
                    self._housekeeping()
                    if effective_settings(self.settings, self.engine) != self.settings:
                        return  # the settings page changed the relay: run_worker starts afresh with it
                    stop.wait(self.settings.worker_poll_seconds)
        finally:
            # results of messages already handed to the relay must reach the ledger
            while inflight:
                self._finish(inflight[0])
            self.pool.close()

    def _housekeeping(self) -> None:
        now = utcnow()
        with session_scope(self.engine) as session:
            started = start_due_scheduled(session, self.settings, now)
            ledger.complete_finished(session, now)
        if started:
            log.info("started scheduled campaigns %s", started)

    def _claim_and_submit(self) -> Batch | None:
        now = utcnow()
        with session_scope(self.engine) as session:
            campaign_ids = ledger.sending_campaign_ids(session)
            rows = ledger.claim(
                session, campaign_ids, self.settings.worker_batch,
                timedelta(seconds=self.settings.worker_lease_seconds), self.owner, now,
            )  # fmt: skip
            if not rows:
                return None
            composers = self._composers_for(session, {r.campaign_id for r in rows})
            stopped = ledger.suppressed(session, [r.email_key for r in rows])
        self.pool.unblock(list(composers))
        batch = Batch(expected=len(rows), row_ids=[r.id for r in rows])
        jobs: list[Job] = []
        for row in rows:
            if row.email_key in stopped:
                batch.add(Outcome(row, "suppressed", None, f"not sent: {stopped[row.email_key]} after launch"))
                continue
            try:
                env = composers[row.campaign_id].compose(
                    row.email, row.first_name, row.last_name, row.attributes, delivery_id=row.id
                )
            except RenderFailed as exc:  # a template error or limit for this one contact: fail the row, not the send
                batch.add(Outcome(row, "failed", None, f"not sent: {exc}"))
                continue
            except Exception:
                log.exception("could not build the message of delivery %s", row.id)
                batch.add(Outcome(row, "failed", None, "not sent: the message could not be built (details in the log)"))
                continue
            row.verp_token, row.message_id = env.verp_token, env.message_id
            jobs.append(Job(row, env, batch))
            if len(jobs) == JOBS_PER_HANDOFF:  # the senders start while the rest is composed
                self.pool.submit(jobs)
                jobs = []
        self.pool.submit(jobs)
        return batch

    def _composers_for(self, session: Session, campaign_ids: set[int]) -> dict[int, Composer]:
        out = {}
        for campaign in session.execute(select(Campaign).where(Campaign.id.in_(campaign_ids))).scalars():
            cached = self._composers.get(campaign.id)
            if cached is None or cached[0] != campaign.updated_at:
                cached = (campaign.updated_at, Composer(campaign, self.settings, self.secret, self.signer))
                self._composers[campaign.id] = cached
            out[campaign.id] = cached[1]
        return out

    def _finish(self, batch: Batch) -> None:
        """Wait for the oldest batch in flight, keeping its lease, and record its results."""
        lease = timedelta(seconds=self.settings.worker_lease_seconds)
        # a slow or throttled relay must not let the lease run out under rows still being sent
        while not batch.wait(lease.total_seconds() / 3):
            with session_scope(self.engine) as session:
                ids = [i for b in self._inflight for i in b.row_ids]
                ledger.extend_lease(session, ids, self.owner, utcnow() + lease)
        outcomes = batch.outcomes
        now = utcnow()
        with session_scope(self.engine) as session:
            touched = ledger.record(session, outcomes, self.settings, now)
            if batch.campaign_errors:
                ledger.pause_campaigns(session, batch.campaign_errors, now)
            self._down_batches = self._down_batches + 1 if batch.relay_down else 0
            if batch.relay_down and self._down_batches >= RELAY_DOWN_PAUSE_AFTER:
                ledger.pause_campaigns(session, dict.fromkeys(touched, batch.relay_down), now)
                self._down_batches = 0
            ledger.complete_finished(session, now, touched)
        self._inflight.popleft()  # only now: until its results are committed, its lease is kept up


def run_worker(settings: Settings, engine: Engine, stop: threading.Event) -> None:
    """The worker loop until `stop` is set (called by `bulkmail serve` and `bulkmail worker`)."""
    log.info("sending worker started")
    while not stop.is_set():
        try:
            Worker(effective_settings(settings, engine), engine).run(stop)
        except Exception:  # a database outage must not end the worker: log, wait, start again
            log.exception("sending worker failed; restarting in %ss", settings.worker_poll_seconds * 5)
            stop.wait(settings.worker_poll_seconds * 5)
    log.info("sending worker stopped")

"""The sending worker: claim due ledger rows, hand them to the sender threads (which compose and send
each message), record the results; start scheduled campaigns and close finished ones.

Two batches are in flight at most (one being sent while the next is composed), so after a kill -9
at most 2 x worker_batch recipients can get a second copy; every other row is sent exactly once.

The database may go away for a while (PostgreSQL restarting, SQLite locked past its busy timeout):
the worker then keeps the results of the batches in flight, claims nothing new, and writes them
when the database answers again, so a blip neither resends nor loses anything."""

import contextlib
import logging
import os
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

from sqlalchemy import Engine
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlmodel import Session

from app.config_store import live_settings
from app.db import is_sqlite, session_scope, yield_to_priority
from app.metrics import counters, heartbeat
from app.models import Campaign, utcnow
from app.secret_key import get_secret_key
from app.sending import abtest, guards, identities, ledger, relays, transactional
from app.sending.campaigns import start_due_scheduled
from app.sending.compose import Composer
from app.sending.dkim_sign import DkimSigner
from app.sending.ledger import Outcome
from app.sending.pacing import Pacer
from app.sending.pool import JOBS_PER_HANDOFF, Batch, Job, SenderPool
from app.sending.relay_pool import RelayRouter, make_pool
from app.sending.transactional_compose import TransactionalComposer
from app.settings import Settings

log = logging.getLogger(__name__)

MAX_BATCHES_IN_FLIGHT = 2
PACED_CLAIMS = 4  # claims in one turn while pacing sends every claimed row back to wait
# the database cannot be reached or is locked: the connection is gone, not the query wrong
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError)
DATABASE_RETRY_MAX_SECONDS = 5.0
# on shutdown, how long held results wait for the database (capped by the lease, after which the rows
# come due again anyway)
DRAIN_SECONDS = 20.0
RELAYS_CHECK_SECONDS = 5.0


# what the worker asks for the time: the wall clock, or one a test sets (sending windows, retries)
Clock = Callable[[], datetime]


def worker_id() -> str:
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Worker:
    def __init__(
        self, settings: Settings, engine: Engine, pool: SenderPool | None = None, clock: Clock = utcnow
    ) -> None:
        self.settings, self.engine, self.now = settings, engine, clock
        self.owner = worker_id()
        self._reader = engine.execution_options(sqlite_read_only=True)
        self.secret = get_secret_key(settings, engine)
        self.signer = DkimSigner.from_settings(settings)
        with session_scope(engine) as session:
            self._relays_seen = relays.fingerprint(session)  # relays and identities as the pool is made
        self._next_relay_check = time.monotonic() + RELAYS_CHECK_SECONDS
        self.pool: SenderPool | RelayRouter = pool or make_pool(settings, engine)
        # one Pacer for the worker, shared by every relay's pool: a domain's pace and pause hold whichever
        # relay its messages take
        self.pacer = Pacer(settings) if settings.pacing else None
        self.pool.pace(self.pacer)
        # pacing decides within the claim's transaction unless other workers would wait for its locks:
        # SQLite has one write transaction at a time anyway, and without a rate or warm-up pacing only reads
        self._pace_in_claim = is_sqlite(engine) or self.pacer is None or not self.pacer.shares_slots
        self._composers: dict[int, tuple[datetime, Composer | TransactionalComposer | abtest.Variants]] = {}
        self._inflight: deque[Batch] = deque()
        self._relay_flagged: set[int] = set()  # campaigns showing a relay outage, as last read
        self._guard_due = guards.Periodic(settings.guard_check_seconds)
        self._started = clock()
        self._beat_due = guards.Periodic(heartbeat.HEARTBEAT_SECONDS)

    def run(self, stop: threading.Event) -> None:
        try:
            waited = 0.0
            while not stop.is_set():
                try:
                    if waited:  # back from an outage: first keep the rows in flight ours, then go on
                        self._extend_leases()
                    if self._step(stop):
                        return  # the settings page changed the relay: run_worker starts afresh with it
                    waited = 0.0
                except DATABASE_UNAVAILABLE as exc:
                    # keep what is in flight (the relay took it) and try again; never drop it by restarting
                    waited = min(DATABASE_RETRY_MAX_SECONDS, max(self.settings.worker_poll_seconds, waited * 2))
                    held = sum(len(b.outcomes) for b in self._inflight)
                    log.warning(
                        "database unavailable (%s); holding %s results, retrying in %.1fs",
                        type(exc).__name__,
                        held,
                        waited,
                    )
                    stop.wait(waited)
        finally:
            self._drain()
            self.pool.close()
            if self.pacer is not None:
                self.pacer.close()
            with contextlib.suppress(*DATABASE_UNAVAILABLE):
                heartbeat.forget(self.engine, self.owner)

    def _step(self, stop: threading.Event) -> bool:
        """One turn of the loop; True when the worker should start afresh with new settings."""
        if self._relays_changed():
            return True
        self._beat()
        inflight = self._inflight
        if inflight and (len(inflight) >= MAX_BATCHES_IN_FLIGHT or inflight[0].done()):
            self._finish(inflight[0])
            return False
        relay_wait = self.pool.wait_seconds()
        batch = self._claim_and_submit() if relay_wait == 0 else None  # no claims while the relay is down
        if batch is not None:
            inflight.append(batch)
        elif inflight:
            self._finish(inflight[0])
        else:
            self._housekeeping()
            if live_settings(self.settings, self.engine) != self.settings:
                return True
            stop.wait(max(self.settings.worker_poll_seconds, min(relay_wait, 1.0)))
        return False

    def _drain(self) -> None:
        """On the way out: results of messages already handed to the relay must reach the ledger."""
        deadline = time.monotonic() + min(DRAIN_SECONDS, self.settings.worker_lease_seconds)
        while self._inflight:
            try:
                self._finish(self._inflight[0])
            except DATABASE_UNAVAILABLE:
                if time.monotonic() > deadline:
                    held = sum(b.expected for b in self._inflight)
                    log.error(
                        "database still unavailable; %s rows leave without their results and are sent "
                        "again when their lease runs out",
                        held,
                    )
                    return
                time.sleep(0.5)

    @contextlib.contextmanager
    def _session(self) -> Iterator[Session]:
        """A transaction of the worker's, begun after any request with priority (a transactional send) is done."""
        yield_to_priority(self.engine)
        with session_scope(self.engine) as session:
            yield session

    @contextlib.contextmanager
    def _reading(self) -> Iterator[Session]:
        """A transaction that only reads: on SQLite it takes no write lock, so neither a request nor a batch's
        writes wait for it."""
        with Session(self._reader, expire_on_commit=False) as session:
            yield session

    def _beat(self) -> None:
        if self._beat_due.due():
            heartbeat.beat(self.engine, self.owner, self._started, self.now())

    def _relays_changed(self) -> bool:
        """A relay or an identity was added, changed or removed since the pool was made (looked at every
        few seconds, mid-campaign too: the worker then finishes what is in flight and starts afresh)."""
        now = time.monotonic()
        if now < self._next_relay_check:
            return False
        self._next_relay_check = now + RELAYS_CHECK_SECONDS
        with self._session() as session:
            return relays.fingerprint(session) != self._relays_seen

    def _housekeeping(self) -> None:
        now = self.now()
        with self._session() as session:
            started = start_due_scheduled(session, self.settings, now)
            ledger.complete_finished(session, now)
        if started:
            log.info("started scheduled campaigns %s", started)

    def _claim_and_submit(self) -> Batch | None:
        now = self.now()
        with self._reading() as session:
            campaigns = {c.id: c for c in ledger.sending_campaigns(session)}
            self._relay_flagged = {c.id for c in campaigns.values() if c.relay_unreachable}
        streams = {i for i, c in campaigns.items() if c.transactional}
        # a campaign whose window is closed sends nothing, whatever time a row carries (a lease that ran out)
        rows = self._claim([i for i, c in campaigns.items() if c.timing.open_for_all(now)], now, streams)
        if not rows:
            return None
        with self._reading() as session:
            composers = self._composers_for(session, [campaigns[i] for i in {r.campaign_id for r in rows}])
            transactional.attach_contents(session, [r for r in rows if r.campaign_id in streams])
            stopped = ledger.suppressed(session, rows)
        self.pool.unblock(list(composers))
        rows.sort(key=lambda r: r.campaign_id not in streams)  # transactional messages go to the relay first
        batch = Batch(expected=len(rows), row_ids=[r.id for r in rows])
        jobs: list[Job] = []
        for row in rows:
            if row.id in stopped:
                batch.add(Outcome(row, ledger.SUPPRESSED, None, f"not sent: {stopped[row.id]} after launch"))
                continue
            allowed = campaigns[row.campaign_id].timing.allowed(now, row.attributes)
            if allowed > now:  # outside the window on the recipient's clock (its lease ran out at night)
                batch.add(Outcome(row, ledger.RELEASED, at=allowed))
                continue
            jobs.append(Job(row, composers[row.campaign_id], batch))
            if len(jobs) == JOBS_PER_HANDOFF:
                self.pool.submit(jobs)
                jobs = []
        self.pool.submit(jobs)
        return batch

    def _claim(self, campaign_ids: list[int], now: datetime, first: set[int]) -> list[ledger.Claimed]:
        """Due rows to send now, those of the FIRST campaigns (the transactional streams) ahead. With pacing, rows whose receiving domain must wait go back to the
        ledger with their time; a claim that kept none tries again, a few times, for other domains.
        With a rate or warm-up on PostgreSQL, pacing decides in a transaction of its own, so the shared
        pacing rows it locks are held for that short moment only (workers claiming at once would
        otherwise queue behind each other's whole claim)."""
        lease = timedelta(seconds=self.settings.worker_lease_seconds)
        pacer = self.pacer
        for _ in range(PACED_CLAIMS):
            with self._session() as session:
                claimed = ledger.claim(session, campaign_ids, self.settings.worker_batch, lease, self.owner, now, first)
                if pacer is None or not claimed:
                    return claimed
                if self._pace_in_claim:
                    rows = pacer.admit(session, claimed, now)
            if not self._pace_in_claim:
                with self._session() as session:
                    rows = pacer.admit(session, claimed, now)
            if rows:
                return rows
        return []

    def _composers_for(
        self, session: Session, campaigns: list[ledger.Sending]
    ) -> dict[int, Composer | TransactionalComposer | abtest.Variants]:
        """The Composer of each campaign, built anew only when the campaign has changed since."""
        out = {}
        for c in campaigns:
            cached = self._composers.get(c.id)
            if cached is None or cached[0] != c.updated_at:
                campaign = session.get(Campaign, c.id)
                assert campaign is not None  # a sending campaign is never deleted (the API refuses)
                built = self._composer(session, campaign, c.transactional)
                cached = (campaign.updated_at, built)
                self._composers[c.id] = cached
            out[c.id] = cached[1]
        return out

    def _composer(
        self, session: Session, campaign: Campaign, stream: bool
    ) -> "Composer | TransactionalComposer | abtest.Variants":
        """A campaign's Composer; an A/B-tested one's, one per variant."""
        if stream:
            return transactional.composer(session, campaign, self.settings, self.secret, self.signer)
        variants = abtest.variants_of(session, campaign.id) if campaign.ab_test and campaign.id else []
        if not variants:
            return identities.composer(session, campaign, self.settings, self.secret, self.signer)
        return abtest.Variants(
            {
                v.number: identities.composer(
                    session, abtest.as_campaign(campaign, v), self.settings, self.secret, self.signer
                )
                for v in variants
            }
        )

    def _extend_leases(self) -> None:
        lease = timedelta(seconds=self.settings.worker_lease_seconds)
        with self._session() as session:
            ids = [i for b in self._inflight for i in b.row_ids]
            ledger.extend_lease(session, ids, self.owner, self.now() + lease)

    def _finish(self, batch: Batch) -> None:
        """Wait for the oldest batch in flight, keeping its lease, and record its results."""
        # a slow or throttled relay must not let the lease run out under rows still being sent
        every = self.settings.worker_lease_seconds / 3
        next_extension = time.monotonic() + every
        while not batch.wait(min(every, heartbeat.HEARTBEAT_SECONDS)):
            self._beat()  # a worker waiting on a slow relay is alive
            if time.monotonic() >= next_extension:
                self._extend_leases()
                next_extension = time.monotonic() + every
        outcomes = batch.outcomes
        now = self.now()
        with self._session() as session:
            touched = ledger.record(session, outcomes, self.settings, now)
            if self.pacer is not None:
                self.pacer.settle(session, batch.row_ids, now)
            if batch.campaign_errors:
                ledger.pause_campaigns(session, batch.campaign_errors, now)
            down = batch.relay_down
            if down is not None:  # the campaigns keep sending; the page shows when the relay is tried next
                window = timedelta(minutes=max(self.settings.retry_minutes, default=0))
                ledger.relay_unreachable(session, touched, down.since, down.next_try, down.problem, window, now)
                self._relay_flagged |= touched
            elif touched & self._relay_flagged:  # the relay answered: clear the outage these campaigns show
                ledger.relay_reachable(session, touched)
                self._relay_flagged -= touched
            statuses = self.pool.statuses()
            if statuses:
                relays.record_states(session, statuses)
            if batch.expected < self.settings.worker_batch:  # a full batch: more rows were due; the
                ledger.complete_finished(session, now, touched)  # claim that finds none completes them
            # last, so the counter rows other workers add to are locked only until this commit
            counters.add(session, counters.outcome_amounts(outcomes, self.pacer.providers if self.pacer else None))
        self._inflight.popleft()  # only now: until its results are committed, its lease is kept up
        if self._guard_due.due():  # the relay's refusals count towards the guard (after the commit: a failure
            guards.check_sending(self.engine, self.settings, now, touched)  # can never cost a batch its results)


def run_worker(settings: Settings, engine: Engine, stop: threading.Event, clock: Clock = utcnow) -> None:
    """The worker loop until `stop` is set (called by `bulkmail serve` and `bulkmail worker`)."""
    log.info("sending worker started")
    while not stop.is_set():
        try:
            Worker(live_settings(settings, engine), engine, clock=clock).run(stop)
        except Exception:  # a database outage must not end the worker: log, wait, start again
            log.exception("sending worker failed; restarting in %ss", settings.worker_poll_seconds * 5)
            stop.wait(settings.worker_poll_seconds * 5)
    log.info("sending worker stopped")

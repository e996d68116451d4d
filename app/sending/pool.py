"""N sending threads, each with its own relay connection, fed from one queue. The pool turns relay
answers into ledger outcomes; it never touches the database.

Jobs travel in small groups: a thread takes several at once and reports their outcomes together, so a
message costs a fraction of a queue hand-off and a lock round instead of one each (on a fast relay the
hand-offs between threads are a visible share of a worker's time)."""

import logging
import queue
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import cast

from app.logs import bound
from app.models import utcnow
from app.models.states import DeliveryState
from app.sending.abtest import Variants
from app.sending.compose import Composer, Envelope
from app.sending.ledger import RELEASED, Claimed, Outcome
from app.sending.pacing import Pacer
from app.sending.relay import CAMPAIGN_ERRORS, ConnectionLost, NotSendable, RelayConnection, RelayError, Reply
from app.sending.relays import RelayStatus
from app.sending.render import RenderFailed
from app.sending.throttle import Throttle
from app.sending.transactional_compose import TransactionalComposer
from app.settings import Settings

log = logging.getLogger(__name__)

JOBS_PER_HANDOFF = 8


@dataclass(frozen=True)
class RelayOutage:
    """The relay cannot be reached: since when (the first failure in a row), the next try, and why."""

    since: datetime
    next_try: datetime
    problem: str


class Backoff:
    """Shared by the sending threads: after each failure in a row the wait doubles, up to a cap, with
    jitter so that several workers do not all knock at the same moment when the relay comes back."""

    def __init__(self, first: float, cap: float) -> None:
        self.first, self.cap = first, cap
        self._lock = threading.Lock()
        self._failures = 0
        self._retry_at = 0.0  # time.monotonic()
        self.outage: RelayOutage | None = None

    def seconds_left(self) -> float:
        return max(0.0, self._retry_at - time.monotonic())

    def current(self) -> RelayOutage | None:
        """The outage while its wait runs, else None (the next message tries the relay)."""
        return self.outage if self.seconds_left() > 0 else None

    def failed(self, problem: str) -> RelayOutage:
        with self._lock:
            if self.outage is not None and self.seconds_left() > 0:
                return self.outage  # another thread failed in the same round: one failure, one wait
            self._failures += 1
            delay = min(self.cap, self.first * 2 ** (self._failures - 1)) * random.uniform(0.8, 1.0)
            self._retry_at = time.monotonic() + delay
            now = utcnow()
            self.outage = RelayOutage(
                self.outage.since if self.outage else now, now + timedelta(seconds=delay), problem
            )
            log.warning("relay unreachable, next try in %.1fs: %s", delay, problem)
            return self.outage

    def answered(self) -> None:
        if self.outage is not None:
            with self._lock:
                if self.outage is not None:
                    log.info("relay reachable again (unreachable since %s)", self.outage.since)
                self._failures, self._retry_at, self.outage = 0, 0.0, None


@dataclass
class Batch:
    """The outcomes of one claimed batch, complete when every job has one."""

    expected: int
    row_ids: list[int] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)
    campaign_errors: dict[int, str] = field(default_factory=dict)
    relay_down: RelayOutage | None = None
    _cond: threading.Condition = field(default_factory=threading.Condition)

    def add(self, *outcomes: Outcome) -> None:
        with self._cond:
            self.outcomes.extend(outcomes)
            if len(self.outcomes) >= self.expected:
                self._cond.notify_all()

    def wait(self, timeout: float | None = None) -> bool:
        """True once every job has its outcome; False when the timeout ran out first."""
        with self._cond:
            return self._cond.wait_for(lambda: len(self.outcomes) >= self.expected, timeout)

    def done(self) -> bool:
        return len(self.outcomes) >= self.expected


@dataclass
class Job:
    """One claimed row to compose and send; the sending thread composes it, so the worker's own thread
    only claims and records (on a fast relay it was the one busy thread)."""

    row: Claimed
    composer: "Composer | TransactionalComposer | Variants"
    batch: Batch


SETTINGS_RELAY = "settings"  # the relay of the settings page, used while no relay is stored


class SenderPool:
    def __init__(
        self,
        settings: Settings,
        connection_factory: Callable[[], RelayConnection] | None = None,
        name: str = SETTINGS_RELAY,
    ) -> None:
        self.settings = settings
        self.name = name  # the relay's name, on each outcome for the metrics
        self.throttle = Throttle(settings.smtp_rate)
        # room for about two batches of jobs
        self._queue: queue.Queue[list[Job] | None] = queue.Queue(
            maxsize=max(2, 2 * settings.worker_batch // JOBS_PER_HANDOFF)
        )
        self._factory = connection_factory or (lambda: RelayConnection(settings))
        self._blocked: dict[int, str] = {}  # campaign id -> relay error that stops it
        self.pacer: Pacer | None = None  # the worker's, when it paces per receiving domain
        self.backoff = Backoff(settings.relay_backoff_seconds, settings.relay_backoff_max_seconds)
        self._threads = [
            threading.Thread(target=self._run, name=f"smtp-{i}", daemon=True)
            for i in range(max(1, settings.smtp_connections))
        ]
        for t in self._threads:
            t.start()

    def submit(self, jobs: list[Job]) -> None:
        """Queue a group of jobs of one batch (up to JOBS_PER_HANDOFF); one sender thread sends them all."""
        if jobs:
            self._queue.put(jobs)

    def pace(self, pacer: Pacer | None) -> None:
        """Hold back the messages of receiving domains this (the worker's) pacer pauses."""
        self.pacer = pacer

    def wait_seconds(self) -> float:
        """How long until the relay is tried again; 0 while it is up."""
        return self.backoff.seconds_left()

    def statuses(self) -> list[RelayStatus]:
        """The settings' relay is not stored: its state shows on the campaigns it stalls."""
        return []

    def unblock(self, campaign_ids: list[int]) -> None:
        """Campaigns resumed after a relay error may be tried again."""
        for cid in campaign_ids:
            self._blocked.pop(cid, None)

    def close(self) -> None:
        for _ in self._threads:
            self._queue.put(None)
        for t in self._threads:
            t.join(timeout=60)

    def _run(self) -> None:
        conn = self._factory()
        try:
            while (jobs := self._queue.get()) is not None:
                outcomes = self._send(conn, jobs)
                for outcome in outcomes:
                    outcome.relay = self.name
                jobs[0].batch.add(*outcomes)
        finally:
            conn.close()

    def _send(self, conn: RelayConnection, jobs: list[Job]) -> list[Outcome]:
        """Send a group of jobs of one batch on this thread's connection, pipelined when the relay
        allows; every job gets its outcome. Each round either settles at least one job or reconnects
        once (a connection in use that the relay closed, its idle timeout or per-connection limit, is
        reopened once before the relay counts as unreachable)."""
        outcomes: list[Outcome | None] = [None] * len(jobs)
        envelopes: list[Envelope | None] = [None] * len(jobs)
        for k, job in enumerate(jobs):
            built = self._compose(job)
            if isinstance(built, Outcome):
                outcomes[k] = built
            else:
                envelopes[k] = built
        reconnected = False
        while True:
            todo = []
            for k, job in enumerate(jobs):
                if outcomes[k] is None:
                    held = self._held(job)
                    if held is not None:
                        outcomes[k] = held
                    else:
                        todo.append(k)
            if not todo:
                return [o for o in outcomes if o is not None]
            limit = self.settings.smtp_per_connection
            if conn.smtp is not None and conn.sent_on_connection >= limit:
                conn.close()
            room = limit - conn.sent_on_connection if conn.smtp is not None else limit
            if self.throttle.rate > 0:  # one at a time, each when the rate allows
                room = 1
                self.throttle.wait()
            todo = todo[: max(1, room)]
            reused = conn.smtp is not None
            try:
                results = conn.send_many([cast(Envelope, envelopes[k]) for k in todo])
            except Exception as exc:  # a bug or an odd server must not leave the batch waiting forever
                log.exception("unexpected error sending delivery %s", jobs[todo[0]].row.id)
                conn.close()
                outcomes[todo[0]] = self._relay_down(
                    jobs[todo[0]].batch,
                    jobs[todo[0]].row,
                    f"unexpected error talking to the relay ({type(exc).__name__})",
                )
                continue
            lost = next((n for n, r in enumerate(results) if isinstance(r, ConnectionLost)), None)
            # the line was in use before the lost message (an earlier round or message): try once more
            if lost is not None and not reconnected and (reused or lost > 0):
                log.info("the relay closed a connection in use; reconnecting")
                reconnected = True
                results[lost:] = [r if isinstance(r, NotSendable) else None for r in results[lost:]]
            for k, result in zip(todo, results, strict=True):
                if result is not None:  # None: not tried; the next round sees why (an outage, a paused campaign)
                    outcomes[k] = self._outcome(conn, jobs[k], result)

    def _compose(self, job: Job) -> Envelope | Outcome:
        """The job's message, or the outcome of a message that cannot be built (a template error or
        limit for this one contact fails the row, not the send)."""
        with bound(campaign_id=job.row.campaign_id, delivery_id=job.row.id):
            return self._composed(job)

    def _composed(self, job: Job) -> Envelope | Outcome:
        row = job.row
        try:
            env = job.composer.compose_row(row)
        except RenderFailed as exc:
            return Outcome(row, DeliveryState.FAILED, None, f"not sent: {exc}")
        except Exception:
            log.exception("could not build the message of delivery %s", row.id)
            return Outcome(
                row, DeliveryState.FAILED, None, "not sent: the message could not be built (details in the log)"
            )
        row.verp_token, row.message_id = env.verp_token, env.message_id
        return env

    def _held(self, job: Job) -> Outcome | None:
        """The outcome of a job that must not go to the relay now: its receiving domain is paused, its
        campaign stopped on a relay error, or the relay is unreachable (not an attempt: the row waits
        for the next try)."""
        row, batch = job.row, job.batch
        paused = self.pacer.paused_until(row) if self.pacer is not None else None
        if paused is not None:  # its receiving domain throttled us since the batch was claimed
            return Outcome(row, RELEASED, at=paused, paced=True)
        blocked = self._blocked.get(row.campaign_id)
        if blocked is not None:
            batch.campaign_errors.setdefault(row.campaign_id, blocked)
            return Outcome(row, RELEASED, at=utcnow())
        outage = self.backoff.current()
        if outage is not None:
            batch.relay_down = outage
            return Outcome(row, RELEASED, at=outage.next_try)
        return None

    def _outcome(self, conn: RelayConnection, job: Job, result: Reply | Exception) -> Outcome:
        with bound(campaign_id=job.row.campaign_id, delivery_id=job.row.id):
            return self._outcome_of(conn, job, result)

    def _outcome_of(self, conn: RelayConnection, job: Job, result: Reply | Exception) -> Outcome:
        row, batch = job.row, job.batch
        if isinstance(result, Reply):
            self.backoff.answered()
            # a refusal of MAIL is about the sender, not the recipient's domain
            pacer = self.pacer if result.stage != "mail" else None
            paused = pacer.answered(row, result.code, result.text) if pacer is not None else None
            if paused is not None:  # the domain's pace, not the recipient: no attempt of its schedule
                return Outcome(row, RELEASED, result.code, result.text, paused, paced=True)
            return Outcome(row, result.kind, result.code, result.text, utcnow())
        if isinstance(result, NotSendable):
            return Outcome(row, DeliveryState.FAILED, None, str(result), utcnow())
        if isinstance(result, ConnectionLost):
            if self.pacer is not None and result.code == 421 and row.email_key in result.text.lower():
                # a 421 naming the recipient: its domain's pace, not the relay
                paused = self.pacer.answered(row, result.code, result.text)
                if paused is not None:
                    return Outcome(row, RELEASED, result.code, result.text, paused, paced=True)
            # refused, timed out, dropped or 421: the relay, not this recipient
            where = f"{self.settings.smtp_host}:{self.settings.smtp_port}"
            if result.code < 0:
                return self._relay_down(batch, row, f"{where} dropped the connection while a message was sent")
            return self._relay_down(batch, row, f"{where} answered {result.code} {result.text}")
        conn.close()
        if isinstance(result, RelayError) and result.kind in CAMPAIGN_ERRORS:
            self._blocked[row.campaign_id] = str(result)
            batch.campaign_errors.setdefault(row.campaign_id, str(result))
            log.warning("campaign %s: relay error, pausing: %s", row.campaign_id, result)
            if row.content is not None:  # a transactional stream is not paused: its rows wait a backoff
                return Outcome(row, RELEASED, at=utcnow() + timedelta(seconds=self.settings.relay_backoff_seconds))
            return Outcome(row, RELEASED, at=utcnow())
        return self._relay_down(batch, row, str(result))

    def _relay_down(self, batch: Batch, row: Claimed, problem: str) -> Outcome:
        outage = self.backoff.failed(problem)
        batch.relay_down = outage
        return Outcome(row, RELEASED, at=outage.next_try)

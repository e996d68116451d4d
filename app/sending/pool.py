"""N sending threads, each with its own relay connection, fed from one queue. The pool turns relay
answers into ledger outcomes; it never touches the database.

Jobs travel in small groups: a thread takes several at once and reports their outcomes together, so a
message costs a fraction of a queue hand-off and a lock round instead of one each (on a fast relay the
hand-offs between threads are a visible share of a worker's time)."""

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from app.models import utcnow
from app.sending.compose import Envelope
from app.sending.ledger import Claimed, Outcome
from app.sending.relay import CAMPAIGN_ERRORS, ConnectionLost, NotSendable, RelayConnection, RelayError
from app.sending.throttle import Throttle
from app.settings import Settings

log = logging.getLogger(__name__)

RELAY_DOWN_BACKOFF_SECONDS = 30.0
JOBS_PER_HANDOFF = 8


@dataclass
class Batch:
    """The outcomes of one claimed batch, complete when every job has one."""

    expected: int
    row_ids: list[int] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)
    campaign_errors: dict[int, str] = field(default_factory=dict)
    relay_down: str | None = None
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
    row: Claimed
    envelope: Envelope
    batch: Batch


class SenderPool:
    def __init__(self, settings: Settings, connection_factory: Callable[[], RelayConnection] | None = None) -> None:
        self.settings = settings
        self.throttle = Throttle(settings.smtp_rate)
        # room for about two batches of jobs
        self._queue: queue.Queue[list[Job] | None] = queue.Queue(
            maxsize=max(2, 2 * settings.worker_batch // JOBS_PER_HANDOFF)
        )
        self._factory = connection_factory or (lambda: RelayConnection(settings))
        self._blocked: dict[int, str] = {}  # campaign id -> relay error that stops it
        self._down_until = 0.0
        self._down_reason = ""
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
                jobs[0].batch.add(*(self._send(conn, job) for job in jobs))
        finally:
            conn.close()

    def _send(self, conn: RelayConnection, job: Job) -> Outcome:
        row, env, batch = job.row, job.envelope, job.batch
        blocked = self._blocked.get(row.campaign_id)
        if blocked is not None:
            batch.campaign_errors.setdefault(row.campaign_id, blocked)
            return Outcome(row, "released", at=utcnow())
        if time.monotonic() < self._down_until:
            batch.relay_down = self._down_reason
            return _released_for_backoff(row)
        try:
            if conn.smtp is not None and conn.sent_on_connection >= self.settings.smtp_per_connection:
                conn.close()
            self.throttle.wait()
            reply = conn.send(env.sender, env.rcpt, env.data, env.envid, env.smtputf8)
        except NotSendable as exc:
            return Outcome(row, "failed", None, str(exc), utcnow())
        except ConnectionLost as exc:
            # 421 or a dropped line: this message is deferred, the next one reconnects
            return Outcome(row, "deferred", exc.code if exc.code > 0 else None, exc.text, utcnow())
        except RelayError as exc:
            conn.close()
            if exc.kind in CAMPAIGN_ERRORS:
                self._blocked[row.campaign_id] = str(exc)
                batch.campaign_errors.setdefault(row.campaign_id, str(exc))
                log.warning("campaign %s: relay error, pausing: %s", row.campaign_id, exc)
                return Outcome(row, "released", at=utcnow())
            self._down_reason = str(exc)
            self._down_until = time.monotonic() + RELAY_DOWN_BACKOFF_SECONDS
            batch.relay_down = str(exc)
            log.warning("relay unavailable, retrying in %ss: %s", RELAY_DOWN_BACKOFF_SECONDS, exc)
            return _released_for_backoff(row)
        except Exception as exc:  # a bug or an odd server must not leave the batch waiting forever
            log.exception("unexpected error sending delivery %s", row.id)
            conn.close()
            batch.relay_down = f"unexpected error: {type(exc).__name__}: {exc}"
            return _released_for_backoff(row)
        return Outcome(row, reply.kind, reply.code, reply.text, utcnow())


def _released_for_backoff(row: Claimed) -> Outcome:
    return Outcome(row, "released", at=utcnow() + timedelta(seconds=RELAY_DOWN_BACKOFF_SECONDS))

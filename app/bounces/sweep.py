"""The sweep: fetch → classify → attribute → record → commit → delete, batch by batch.

Only messages whose findings are committed get deleted; human and unrecognised mail is kept
(IMAP: optionally moved to the keep folder). A message whose content hash is already recorded was
committed by an earlier sweep that did not get to delete it (a crash, a lost connection): it is just
deleted now, so reruns never record anything twice and never lose anything."""

import contextlib
import hashlib
import logging
import math
import multiprocessing
import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Engine, func, select, update
from sqlmodel import Session, col

from app.bounces.attribution import Lookup
from app.bounces.lifeline import exit_with
from app.bounces.lock import AdvisoryLock, JobLease, sweep_lock, this_process
from app.bounces.mailbox import Mailbox, describe, open_mailbox
from app.bounces.policy import BouncePolicy
from app.bounces.record import Incoming, Recorded, SweepContext, message_kind, processed_ids, record_batch
from app.config_store import live_settings
from app.logs import bound
from app.metrics import counters
from app.models import MailboxSweep, ProcessedMessage, utcnow
from app.secret_key import get_secret_key
from app.sending import guards
from app.settings import Settings
from bounce_parsers import Classification, classify

log = logging.getLogger(__name__)


_Fetched = tuple[str, int, str, Classification]  # mailbox id, size, content hash, classification
_POOL_CHUNKS = 4  # pieces per batch: small enough to keep every worker process busy


def _fetch_classified(box: Mailbox, ids: Sequence[str], pool: Executor | None) -> Callable[[], list[_Fetched]]:
    """Fetch a batch and start classifying it: in worker processes when there is a pool (the results
    are collected by calling what this returns), else right here."""
    fetched = [(uid, len(raw), hashlib.sha256(raw).hexdigest(), raw) for uid, raw in box.fetch(ids)]
    raws = [raw for _, _, _, raw in fetched]
    if pool is None:
        found: Iterable[Classification] = [classify(raw) for raw in raws]
    else:
        found = pool.map(classify, raws, chunksize=max(1, math.ceil(len(raws) / _POOL_CHUNKS)))
    return lambda: [(uid, size, digest, c) for (uid, size, digest, _), c in zip(fetched, found, strict=True)]


@contextlib.contextmanager
def _classifier_pool(processes: int) -> Iterator[Executor | None]:
    """Worker processes for classification (it is CPU-bound; threads would share one core)."""
    if processes <= 1:
        yield None
        return
    # forkserver: forking this process (scheduler and worker threads, open connections) is unsafe;
    # the workers end with this process even when it is killed
    context = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(processes, mp_context=context, initializer=exit_with, initargs=(os.getpid(),)) as pool:
        yield pool


@dataclass
class _BatchResult:
    delete: list[tuple[str, int]] = field(default_factory=list)  # (mailbox id, processed_message id)
    keep: list[str] = field(default_factory=list)


def run_sweep(settings: Settings, engine: Engine, trigger: str = "schedule") -> MailboxSweep | None:
    """Sweep the mailbox once; None when another sweep (any process, any machine) is running."""
    settings = live_settings(settings, engine)  # the mailbox and policy saved on the settings page
    with sweep_lock(engine) as lock:
        if lock is None:
            log.info("bounce sweep skipped: another sweep is running")
            return None
        sweep = _Sweeper(settings, engine, lock, trigger).run()
    _guard(settings, engine)
    return sweep


def _guard(settings: Settings, engine: Engine) -> None:
    """The sweep brought bounces and complaints: the deliverability guard reads the rates again. Its
    failure must not turn a finished sweep into a failed one: it runs again after the next."""
    try:
        paused = guards.check_sending(engine, settings, utcnow())
    except Exception:
        log.exception("the deliverability guard could not check the sending campaigns")
        return
    if paused:
        log.warning("deliverability guard paused campaigns %s", paused)


def sweep_if_due(settings: Settings, engine: Engine, now: datetime) -> bool:
    """The scheduler's tick: sweep when a mailbox is configured and the interval saved on the settings
    page (while a campaign sends, at most `guard_sweep_minutes`) has passed since the last scheduled
    sweep of any process, so a changed interval applies at once everywhere. A failure is already in the sweep log, so it must not escape."""
    live = live_settings(settings, engine)
    if not live.mailbox_host or live.sweep_interval_minutes <= 0:
        return False
    with Session(engine) as session:
        last = session.execute(
            select(func.max(MailboxSweep.started_at)).where(col(MailboxSweep.trigger) == "schedule")
        ).scalar_one()
        interval = guards.sweep_minutes(session, live)  # shorter while a campaign sends
    if last is not None and now - last < timedelta(minutes=interval):
        return False
    try:
        run_sweep(settings, engine, "schedule")
    except Exception:
        log.exception("bounce sweep could not run")
    return True


def _abandon_unfinished(engine: Engine, current: int) -> None:
    """Called with the lock held, so no other sweep runs: a row still `running` belongs to a sweeper
    that lost the lock (its process was killed, or its database connection cut). What it committed
    stays committed; its messages that were not deleted are this sweep's to process."""
    with Session(engine) as session:
        for row in session.scalars(
            select(MailboxSweep).where(col(MailboxSweep.state) == "running", col(MailboxSweep.id) != current)
        ):
            host, _, pid = (row.owner or "").rpartition(":")
            by = f"the sweeping process (pid {pid} on {host})" if pid else "the sweeping process"
            row.state = "abandoned"
            row.error = f"{by} ended before the sweep finished; sweep {current} took the mailbox over"
            log.warning("bounce sweep %s abandoned: %s", row.id, row.error)
        session.commit()


class _Sweeper:
    def __init__(self, settings: Settings, engine: Engine, lock: JobLease | AdvisoryLock, trigger: str) -> None:
        self.settings = settings
        self.engine = engine
        self.lock = lock
        # the sweep's row counts as it goes (seen, recorded, deleted, kept, errors); these two are
        # stored with it at the end
        self.per_kind: Counter[str] = Counter()
        self.per_layer: Counter[str] = Counter()
        with Session(engine, expire_on_commit=False) as session:
            self.sweep = MailboxSweep(
                protocol=settings.mailbox_protocol, trigger=trigger, started_at=utcnow(), owner=this_process()
            )
            session.add(self.sweep)
            session.commit()
        assert self.sweep.id is not None
        _abandon_unfinished(engine, self.sweep.id)
        self.ctx = SweepContext(self.sweep.id, get_secret_key(settings, engine), BouncePolicy.from_settings(settings))

    def run(self) -> MailboxSweep:
        with bound(sweep_id=self.sweep.id):
            return self._run()

    def _run(self) -> MailboxSweep:
        box: Mailbox | None = None
        where = f"{self.settings.mailbox_protocol}://{self.settings.mailbox_host}:{self.settings.mailbox_port or ''}"
        try:
            box = open_mailbox(self.settings)
            where = box.name
            self._sweep_mailbox(box)
            self.sweep.state = "done"
        except Exception as exc:
            self.sweep.errors += 1
            self.sweep.state = "failed"
            self.sweep.error = describe(exc, where)[:4000]
            log.warning("bounce sweep %s failed: %s", self.sweep.id, self.sweep.error)
        finally:
            if box is not None and self.sweep.state != "done":
                # the connection may already be broken; the log has the cause
                with contextlib.suppress(Exception):
                    box.close(commit=False)
            self._finish()
        return self.sweep

    def _sweep_mailbox(self, box: Mailbox) -> None:
        ids = box.list_ids()
        size = max(1, self.settings.mailbox_batch)
        batches = [ids[start : start + size] for start in range(0, len(ids), size)]
        pending: list[int] = []  # processed rows whose messages are marked; deleted for good at close
        # One thread owns the mailbox connection and runs its calls in order: it fetches and classifies
        # batch N+1 while this thread records batch N. The marks for batch N-1 are confirmed before
        # batch N is recorded, so a broken connection stops the sweep right after the batch it broke.
        processes = self.settings.sweep_processes if len(batches) > 1 else 1
        with ThreadPoolExecutor(1, thread_name_prefix="sweep-mailbox") as mailbox, _classifier_pool(processes) as pool:
            ahead = mailbox.submit(_fetch_classified, box, batches[0], pool) if batches else None
            marks: list[Future[object]] = []
            for n in range(len(batches)):
                assert ahead is not None
                messages = ahead.result()()
                for mark in marks:
                    mark.result()
                if n + 1 < len(batches):
                    ahead = mailbox.submit(_fetch_classified, box, batches[n + 1], pool)
                result = self._batch(messages)
                marks = [
                    mailbox.submit(box.delete, [uid for uid, _ in result.delete]),
                    mailbox.submit(box.keep, result.keep),
                ]
                pending.extend(pm for _, pm in result.delete)
                self.sweep.kept += len(result.keep)
                self.lock.renew()
            for mark in marks:
                mark.result()
        box.close(commit=True)
        self._mark_deleted(pending)

    def _batch(self, messages: list[_Fetched]) -> _BatchResult:
        """Record one fetched and classified batch and commit; returns what to delete and what to keep."""
        result = _BatchResult()
        self.sweep.seen += len(messages)
        with Session(self.engine) as session:
            done = processed_ids(session, [digest for _, _, digest, _ in messages])
        fresh: dict[str, tuple[str, int, Classification]] = {}
        repeats: list[tuple[str, str]] = []  # the same bytes twice in the mailbox: recorded once, both deleted
        for uid, size, digest, classification in messages:
            if digest in done:
                result.delete.append((uid, done[digest]))
            elif digest in fresh:
                repeats.append((uid, digest))
            else:
                fresh[digest] = (uid, size, classification)
        with Session(self.engine, expire_on_commit=False) as session:
            lookup = Lookup(session, self.ctx.secret, [c for _, _, c in fresh.values()])
            items = []
            for digest, (uid, size, classification) in fresh.items():
                kind = message_kind(lookup, classification)
                if kind == "none":
                    result.keep.append(uid)
                else:
                    items.append(Incoming(uid, digest, size, classification, kind))
            for item, recorded in self._record(session, lookup, items):
                done[item.content_hash] = recorded.processed_id
                result.delete.append((item.mailbox_id, recorded.processed_id))
                self.sweep.recorded += 1
                self.per_kind[item.kind] += 1
                self.per_layer.update(recorded.layers)
        result.delete.extend((uid, done[digest]) for uid, digest in repeats if digest in done)
        return result

    def _record(self, session: Session, lookup: Lookup, items: list[Incoming]) -> list[tuple[Incoming, Recorded]]:
        """The whole batch in one transaction; if that fails, message by message, so one bad message
        costs only itself (it stays in the mailbox, counted as an error)."""
        now = utcnow()
        try:
            recorded = record_batch(session, self.ctx, lookup, items, now)
            session.commit()
            return list(zip(items, recorded, strict=True))
        except Exception:
            session.rollback()
        out = []
        for item in items:
            try:
                (one,) = record_batch(session, self.ctx, lookup, [item], now)
                session.commit()
                out.append((item, one))
            except Exception:
                session.rollback()
                log.exception("bounce sweep %s: could not record message %s", self.sweep.id, item.mailbox_id)
                self.sweep.errors += 1
        return out

    def _mark_deleted(self, processed_ids: list[int]) -> None:
        if not processed_ids:
            return
        with Session(self.engine) as session:
            session.execute(
                update(ProcessedMessage).where(col(ProcessedMessage.id).in_(processed_ids)).values(deleted_at=utcnow())
            )
            session.commit()
        self.sweep.deleted += len(processed_ids)

    def _finish(self) -> None:
        sweep = self.sweep
        sweep.finished_at = utcnow()
        sweep.per_kind, sweep.per_layer = dict(self.per_kind), dict(self.per_layer)
        with Session(self.engine, expire_on_commit=False) as session:
            session.add(sweep)
            counters.add(session, counters.sweep_amounts(sweep))
            session.commit()
        log.info(
            "bounce sweep %s %s: seen %d, recorded %d, deleted %d, kept %d, errors %d",
            sweep.id,
            sweep.state,
            sweep.seen,
            sweep.recorded,
            sweep.deleted,
            sweep.kept,
            sweep.errors,
        )

"""Hits written in batches: the hit routes only append to a queue in memory; a thread writes what has come
in every `tracking_flush_ms` (sooner once BATCH are waiting), in one transaction per batch. The scheduler
settles them later (app/tracking/jobs.py).

What can be lost: on a clean stop (SIGTERM, SIGINT, the service's shutdown) nothing, since stopping writes
the queue before the process ends. When the database refuses a batch (down, locked past its timeout), the
batch goes to a spool file in the data directory (written and fsynced), and is written from there once the
database takes it again, also after a restart. A process killed outright (SIGKILL, power loss) loses the
hits of at most its last `tracking_flush_ms` (at most MAX_QUEUE hits)."""

import json
import logging
import os
import threading
import time
from collections import deque
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session

from app.db import insert_rows
from app.models import TrackingHit
from app.settings import Settings
from app.tracking import rules
from app.tracking.tokens import Hit

log = logging.getLogger(__name__)

BATCH = 2000
MAX_QUEUE = 200_000  # past this a burst the database cannot keep up with is spooled rather than held

Queued = tuple[Hit, float, str | None, str | None, str]  # hit, time, user agent, address, method


class Recorder:
    def __init__(self, settings: Settings, engine: Engine) -> None:
        self.settings, self.engine = settings, engine
        self.queue: deque[Queued] = deque()
        self.spool_dir = Path(settings.data_dir) / "tracking-spool"
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, hit: Hit, user_agent: str | None, address: str | None, method: str = "GET") -> None:
        """From the hit routes: no database, no lock (a deque's append is atomic)."""
        self.queue.append((hit, time.time(), user_agent, address, method))
        if len(self.queue) >= BATCH:
            self._wake.set()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="tracking-recorder", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Write everything still queued before the process ends."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        self.flush()

    def _run(self) -> None:
        interval = self.settings.tracking_flush_ms / 1000
        while not self._stop.is_set():
            self._wake.wait(interval)
            self._wake.clear()
            try:
                self.flush()
            except Exception:  # the thread must outlive any one failure; the hits are spooled or still queued
                log.exception("recording hits failed; retrying")

    def flush(self) -> int:
        """Write the queue (and any spooled batches) now; the number of hits written."""
        written = self._replay_spool()
        while self.queue:
            batch = [self.queue.popleft() for _ in range(min(len(self.queue), BATCH))]
            rows = [_row(q) for q in batch]
            try:
                self._write(rows)
                written += len(rows)
            except Exception:
                log.warning("the database did not take %d hits; they are spooled to %s", len(rows), self.spool_dir)
                self._spool(rows)
                break  # the rest waits for the next round (or is spooled then)
        if len(self.queue) > MAX_QUEUE:
            self._spool([_row(self.queue.popleft()) for _ in range(len(self.queue))])
        return written

    def _write(self, rows: list[dict[str, Any]]) -> None:
        with Session(self.engine) as session:
            insert_rows(session, TrackingHit, rows)
            session.commit()

    def _spool(self, rows: list[dict[str, Any]]) -> None:
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        path = self.spool_dir / f"{time.time_ns()}.jsonl"
        with open(path, "w") as f:
            for r in rows:
                f.write(json.dumps({**r, "at": r["at"].isoformat()}) + "\n")
            f.flush()
            os.fsync(f.fileno())

    def _replay_spool(self) -> int:
        if not self.spool_dir.is_dir():
            return 0
        written = 0
        for path in sorted(self.spool_dir.glob("*.jsonl")):
            rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
            for r in rows:
                r["at"] = datetime.fromisoformat(r["at"])
            self._write(rows)  # raises while the database is still away: the file stays
            path.unlink()
            written += len(rows)
        return written


def _row(q: Queued) -> dict[str, Any]:
    hit, at, user_agent, address, method = q
    return {
        "campaign_id": hit.campaign_id,
        "delivery_id": hit.delivery_id,
        "link": hit.link,
        "at": datetime.fromtimestamp(at, UTC),
        "signal": rules.signal(user_agent, address, method),
        "machine": None,
        "reason": None,
    }

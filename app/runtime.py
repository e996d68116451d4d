"""The background half of a bulkmail process: the scheduler and the embedded sending worker."""

import logging
import threading

from sqlalchemy import Engine

from app.scheduler import build_scheduler
from app.settings import Settings

log = logging.getLogger(__name__)


class BackgroundServices:
    """Started by `bulkmail serve` (inside the web process) and `bulkmail worker` (on its own)."""

    def __init__(self, settings: Settings, engine: Engine) -> None:
        self.settings = settings
        self.engine = engine
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._scheduler = None

    def start(self) -> None:
        if self.settings.scheduler:
            self._scheduler = build_scheduler(self.settings, self.engine)
            self._scheduler.start()
        if self.settings.embedded_worker:
            from app.sending.worker import run_worker

            t = threading.Thread(
                target=run_worker, args=(self.settings, self.engine, self._stop), name="worker", daemon=True
            )
            t.start()
            self._threads.append(t)

    def stop(self) -> None:
        self._stop.set()
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
        for t in self._threads:
            t.join(timeout=30)

    def wait(self) -> None:
        """Block until stopped (the `bulkmail worker` foreground)."""
        self._stop.wait()

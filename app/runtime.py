"""The background half of bulkmail: the scheduler and the sending worker, run in threads of the
process that starts them, and `bulkmail serve`'s child process that runs them beside the web server."""

import gc
import logging
import os
import subprocess
import sys
import threading

from apscheduler.schedulers.background import BackgroundScheduler
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
        self._scheduler: BackgroundScheduler | None = None

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

    def wait(self, timeout: float | None = None) -> bool:
        """Block until stopped (the `bulkmail worker` foreground) or the timeout; True once stopped."""
        return self._stop.wait(timeout)


class BackgroundProcess:
    """`bulkmail worker --parent PID` beside `bulkmail serve`: sending and sweeps run outside the web
    server's interpreter (no shared GIL) at a lower CPU priority, so a campaign in flight never slows
    the API or the pages. Restarted if it dies; it exits on its own if the web server is killed."""

    RESTART_DELAY = 5.0

    def __init__(self) -> None:
        self._proc: subprocess.Popen[bytes] | None = None
        self._stopping = threading.Event()
        self._supervisor = threading.Thread(target=self._supervise, name="background-process", daemon=True)

    def start(self) -> None:
        self._spawn()
        self._supervisor.start()

    def _spawn(self) -> None:
        # Own session: a Ctrl-C in the terminal reaches the web server, which then stops this child.
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "app", "worker", "--parent", str(os.getpid())], start_new_session=True
        )

    def _supervise(self) -> None:
        while not self._stopping.is_set():
            assert self._proc is not None
            code = self._proc.wait()
            if self._stopping.wait(self.RESTART_DELAY):
                return
            log.error("background process (sending worker, scheduler) exited with %s; restarting it", code)
            self._spawn()

    def stop(self, timeout: float = 40.0) -> None:
        self._stopping.set()
        if self._proc is None or self._proc.poll() is not None:
            return
        self._proc.terminate()
        try:
            self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()


def freeze_startup_heap() -> None:
    """Move everything loaded at startup (modules, routes, schemas, compiled patterns) out of the
    collector's reach: otherwise each full collection walks that whole heap and stalls every request
    in flight for 50-200 ms."""
    gc.collect()
    gc.freeze()

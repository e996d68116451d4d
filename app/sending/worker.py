"""The sending worker (placeholder until the ledger worker lands)."""

import threading

from sqlalchemy import Engine

from app.settings import Settings


def run_worker(settings: Settings, engine: Engine, stop: threading.Event) -> None:
    stop.wait()

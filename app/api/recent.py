"""Recent answers to polled reads, kept per key for a few seconds.

When a kept answer has expired, the first request to ask computes it again while the requests that
arrive meanwhile get the expired one, so a key polled by many clients costs one computation per
period instead of one per request in flight."""

import threading
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from starlette.concurrency import run_in_threadpool

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Recent(Generic[K, V]):
    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._answers: dict[K, tuple[float, V]] = {}
        self._computing: set[K] = set()
        self._lock = threading.Lock()  # callers come from the event loop and from the thread pool

    def _kept(self, key: K) -> V | None:
        """The answer to give now, or None when this caller is to compute it (then _store())."""
        with self._lock:
            hit = self._answers.get(key)
            if hit is not None and (time.monotonic() - hit[0] < self.ttl or key in self._computing):
                return hit[1]
            self._computing.add(key)
            return None

    def _store(self, key: K, value: V | None, keep: Callable[[V], bool] | None = None) -> None:
        with self._lock:
            self._computing.discard(key)
            if value is not None and (keep is None or keep(value)):
                self._answers[key] = (time.monotonic(), value)

    def answer(self, key: K, compute: Callable[[], V]) -> V:
        """The kept answer, else compute()'s, which is then kept."""
        if (hit := self._kept(key)) is not None:
            return hit
        value = None
        try:
            value = compute()
            return value
        finally:
            self._store(key, value)

    async def answer_in_thread(self, key: K, compute: Callable[[], V], keep: Callable[[V], bool] | None = None) -> V:
        """answer(), with compute() run in the thread pool (a kept answer costs no thread-pool hop) and its
        answer kept only when keep(answer)."""
        if (hit := self._kept(key)) is not None:
            return hit
        value = None
        try:
            value = await run_in_threadpool(compute)
            return value
        finally:
            self._store(key, value, keep)

    def put(self, key: K, value: V) -> None:
        """Keep an answer computed elsewhere."""
        self._store(key, value)

    def clear(self) -> None:
        with self._lock:
            self._answers.clear()

"""Token buckets: per API key (`api_rate_burst` tokens, refilled at `api_rate_per_second`) and per client IP
of the public signup form. SQLite runs one process, so an API key's bucket lives in memory; on PostgreSQL
every process shares it as one row per key in `rate_bucket`, refilled and spent by a single atomic upsert.
The signup form's buckets are kept in the memory of the web process that answers the form."""

import threading
import time
from collections.abc import Hashable

from sqlalchemy import Engine, text

from app.db import is_sqlite


class MemoryBuckets:
    # beyond this many keys (a flood from many addresses) the buckets that are full again are forgotten
    MAX_KEYS = 100_000

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, burst
        self._buckets: dict[Hashable, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key_id: Hashable) -> float:
        """0 if allowed, else the seconds until a token is free."""
        now = time.monotonic()
        with self._lock:
            if len(self._buckets) >= self.MAX_KEYS:
                self._forget_full(now)
            tokens, last = self._buckets.get(key_id, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rate)
            if tokens >= 1:
                self._buckets[key_id] = (tokens - 1, now)
                return 0.0
            self._buckets[key_id] = (tokens, now)
            return (1 - tokens) / self.rate

    def _forget_full(self, now: float) -> None:
        full = [k for k, (tokens, last) in self._buckets.items() if tokens + (now - last) * self.rate >= self.burst]
        for k in full:
            del self._buckets[k]


_TAKE_SQL = text("""
INSERT INTO rate_bucket (api_key_id, tokens, updated) VALUES (:key, :burst - 1, :now)
ON CONFLICT (api_key_id) DO UPDATE SET
  tokens = CASE WHEN LEAST(:burst, rate_bucket.tokens + :rate * (:now - rate_bucket.updated)) >= 1
                THEN LEAST(:burst, rate_bucket.tokens + :rate * (:now - rate_bucket.updated)) - 1
                ELSE LEAST(:burst, rate_bucket.tokens + :rate * (:now - rate_bucket.updated)) - 2 END,
  updated = :now
RETURNING tokens
""")


class TableBuckets:
    """The same bucket in PostgreSQL. A refused request stores tokens - 2 (below zero) only to mark the
    refusal in the RETURNING value; it is undone at once, so refusals cost no tokens."""

    def __init__(self, engine: Engine, rate: float, burst: int) -> None:
        self.engine, self.rate, self.burst = engine, rate, burst

    def take(self, key_id: int) -> float:
        params = {"key": key_id, "burst": float(self.burst), "rate": self.rate, "now": time.time()}
        with self.engine.begin() as conn:
            left = conn.execute(_TAKE_SQL, params).scalar_one()
            if left >= 0:
                return 0.0
            conn.execute(text("UPDATE rate_bucket SET tokens = tokens + 1 WHERE api_key_id = :key"), params)
        return (1 - (left + 1)) / self.rate


def buckets_for(engine: Engine, rate: float, burst: int) -> MemoryBuckets | TableBuckets:
    return MemoryBuckets(rate, burst) if is_sqlite(engine) else TableBuckets(engine, rate, burst)

"""Pacing per receiving domain: each domain, or each provider's domains together (providers.py), has
its own rate, concurrency and warm-up caps; a throttling reply halves its rate and pauses it with a
backoff, steady success raises the rate again step by step (AIMD). Other domains keep their speed.

The state lives in the `pacing_state` table (pacing_store.py), so every worker on every machine, and
a worker after a restart, paces against the same rate, pause and daily count: the next free slot of a
rate is a shared virtual clock (GCRA) that each claim advances. Only the concurrency limit is kept per
worker: it bounds the messages one worker has in flight to a domain, which is a property of that
worker's sending threads.

Rows that must wait go back to the ledger unleased with the time they may go (pause end, their slot
at the rate, the next day for a warm-up cap), so a restart keeps them waiting and no worker holds
them."""

import logging
import threading
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from sqlmodel import Session

from app.sending import ledger, pacing_store
from app.sending.ledger import Claimed
from app.sending.pacing_store import Pace
from app.sending.providers import ProviderMap, domain_of
from app.settings import Settings
from bounce_parsers.reasons import classify_smtp_reply
from bounce_parsers.smtp import find_status

log = logging.getLogger(__name__)

# the rate's burst: a claim admits what the rate allows within the next second
WINDOW = timedelta(seconds=1)
# the pace a concurrency-limited row waits before it is claimed again
CONCURRENCY_WAIT = timedelta(seconds=1)
# the reasons bounce_parsers gives a receiver's complaint about the sender's pace
THROTTLE_REASONS = frozenset({"speeding", "toomanyconn"})
# what a 4.7.x (policy) deferral can mean besides the pace: still the sender's standing, so slow down
POLICY_REASONS = THROTTLE_REASONS | {"blocked", "badreputation", "securityerror", "policyviolation", "rejected"}
MAX_DOMAINS_PER_KEY = 1_000  # domains of one provider remembered for deferring its queued rows


def is_throttling(code: int, text: str) -> bool:
    """A receiver asking the sender to slow down: 421, or a 4xx whose reason is the pace (Yahoo's
    TSS04, Gmail's 4.7.28, Outlook's 4.7.650 and the like), per bounce_parsers' reply rules. A
    greylisting deferral is not: it is about one new sender-recipient pair, and the retry schedule
    already waits it out."""
    if not 400 <= code < 500 or "greylist" in text.lower():
        return False
    if code == 421:
        return True
    reason, _ = classify_smtp_reply(code, text)
    if reason in THROTTLE_REASONS:
        return True
    return find_status(text, str(code)).startswith("4.7.") and reason in POLICY_REASONS


@dataclass(frozen=True)
class Limits:
    rate: float  # messages per second, 0 = unlimited
    concurrency: int  # 0 = any
    warmup: tuple[int, ...]  # daily caps from the first day


def limits(settings: Settings, key: str) -> Limits:
    override = settings.pacing_providers.get(key, {})
    warm = settings.pacing_warmup.get(key) or settings.pacing_warmup.get("*") or []
    return Limits(
        float(override.get("rate", settings.pacing_rate)),
        int(override.get("concurrency", settings.pacing_concurrency)),
        tuple(warm),
    )


def _next_day(now: datetime) -> datetime:
    return datetime.combine(now.date() + timedelta(days=1), time(), tzinfo=UTC)


class Pacer:
    """One worker's side of pacing. `admit` runs in the claim's transaction, `answered` in the sending
    threads (memory only), `settle` in the transaction that records a batch's results."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.providers = ProviderMap(settings)
        self._lock = threading.Lock()
        self._key_of: dict[int, str] = {}  # claimed row id -> pacing key, while in flight
        self._inflight: Counter[str] = Counter()
        self._hold: dict[str, datetime] = {}  # key -> pause end, known to this worker
        self._throttled: dict[str, str] = {}  # key -> the throttling reply, until settled
        self._successes: Counter[str] = Counter()
        self._slowed: set[str] = set()  # keys whose rate throttling lowered, as last read
        self._domains: defaultdict[str, set[str]] = defaultdict(set)

    @property
    def shares_slots(self) -> bool:
        """Whether a claim writes shared state (some rate or warm-up is configured); else it only reads
        which domains are paused."""
        s = self.settings
        return s.pacing_rate > 0 or bool(s.pacing_warmup) or any(o.get("rate") for o in s.pacing_providers.values())

    def close(self) -> None:
        self.providers.close()

    def key_of(self, row: Claimed) -> str:
        domain = domain_of(row.email_key)
        key = self.providers.key(domain)
        if key != domain and len(self._domains[key]) < MAX_DOMAINS_PER_KEY:
            self._domains[key].add(domain)
        return key

    def admit(self, session: Session, rows: list[Claimed], now: datetime) -> list[Claimed]:
        """The claimed rows that may go now; the others go back to the ledger with their time."""
        by_key: defaultdict[str, list[Claimed]] = defaultdict(list)
        keys: dict[int, str] = {}
        for row in rows:
            key = keys[row.id] = self.key_of(row)
            by_key[key].append(row)
        lims = {key: limits(self.settings, key) for key in by_key}
        tracked = [k for k, lim in lims.items() if lim.rate > 0 or lim.warmup]
        states = pacing_store.load(session, sorted(by_key), tracked, now)
        self._slowed = {k for k, st in states.items() if st.rate is not None} | (self._slowed - set(by_key))
        admitted: list[Claimed] = []
        held: list[tuple[int, datetime]] = []
        changed: list[Pace] = []
        for key, group in by_key.items():
            st = states.get(key)
            go, wait = self._admit_key(key, group, st, lims[key], now)
            admitted += go
            held += wait
            if st is not None and (go or wait):
                changed.append(st)
        warming = any(lims[st.key].warmup for st in changed)
        pacing_store.save(session, changed, now, pacing_store.ADMISSION_COLUMNS if warming else ("next_slot_at",))
        ledger.release(session, held)
        with self._lock:
            for row in admitted:
                self._key_of[row.id] = keys[row.id]
                self._inflight[keys[row.id]] += 1
        admitted.sort(key=lambda r: r.id)
        return admitted

    def _admit_key(
        self, key: str, rows: list[Claimed], st: Pace | None, lim: Limits, now: datetime
    ) -> tuple[list[Claimed], list[tuple[int, datetime]]]:
        rate = st.rate if st is not None and st.rate is not None else lim.rate
        step = timedelta(seconds=1 / rate) if rate > 0 else timedelta(0)
        pause = max(self._hold.get(key, now), (st.throttled_until if st is not None else None) or now)
        if pause > now:  # throttled: nothing before the pause ends, then at the rate
            return [], [(r.id, pause + k * step) for k, r in enumerate(rows)]
        busy = len(rows) if not lim.concurrency else max(0, lim.concurrency - self._inflight[key])
        today = len(rows)
        if st is not None and lim.warmup:
            today = max(0, _warmup_cap(lim, st, now) - st.sent_on_day)
        go: list[Claimed] = []
        wait: list[tuple[int, datetime]] = []
        slot = max(st.next_slot_at or now, now) if st is not None else now
        for row in rows:
            if len(go) >= today:  # the warm-up's cap of the day is reached: tomorrow
                wait.append((row.id, _next_day(now)))
            elif len(go) >= busy:
                wait.append((row.id, now + CONCURRENCY_WAIT))
            elif rate > 0 and slot > now + WINDOW:  # at the rate: its own slot
                wait.append((row.id, slot + len(wait) * step))
            else:
                go.append(row)
                slot += step
        if st is not None:
            st.next_slot_at = slot if rate > 0 else None
            st.sent_on_day += len(go) if lim.warmup else 0
        return go, wait

    def answered(self, row: Claimed, code: int, text: str) -> datetime | None:
        """Note the relay's reply to a row (from a sending thread); when it throttles the row's
        domain, the time until which that domain pauses (this worker's estimate until settled)."""
        key = self._key_of.get(row.id)
        if key is None:
            return None
        if 200 <= code < 300:
            if key in self._slowed:
                with self._lock:
                    self._successes[key] += 1
            return None
        if not is_throttling(code, text):
            return None
        with self._lock:
            self._throttled.setdefault(key, f"{code} {text}")
            until = self._hold.get(key)
            if until is None or until <= datetime.now(UTC):
                until = self._hold[key] = datetime.now(UTC) + timedelta(seconds=self.settings.pacing_backoff_seconds)
        return until

    def paused_until(self, row: Claimed) -> datetime | None:
        """When the row's domain was throttled while its batch was out: the pause's end, else None."""
        until = self._hold.get(self._key_of.get(row.id, ""))
        return until if until is not None and until > datetime.now(UTC) else None

    def settle(self, session: Session, row_ids: list[int], now: datetime) -> None:
        """Record a batch's throttling and successes in the shared state and defer the throttled
        domains' queued rows; forget the batch's rows. The caller commits."""
        with self._lock:
            throttled, self._throttled = self._throttled, {}
            successes, self._successes = self._successes, Counter()
            for rid in row_ids:
                key = self._key_of.pop(rid, None)
                if key is not None:
                    self._inflight[key] -= 1
                    if self._inflight[key] <= 0:
                        del self._inflight[key]
        try:
            self._write(session, throttled, successes, now)
        except Exception:  # the database is away: keep them for the next try (the worker writes again)
            with self._lock:
                self._throttled = throttled | self._throttled
                self._successes.update(successes)
            raise

    def _write(self, session: Session, throttled: dict[str, str], successes: Counter[str], now: datetime) -> None:
        if throttled:
            ceilings = {k: self.ceiling(k) for k in throttled}
            for key, until in pacing_store.throttle(session, throttled, ceilings, self.settings, now).items():
                self._hold[key] = until
                domains = {key} if "." in key else self._domains.get(key, set())
                pacing_store.defer_queued(session, sorted(domains), until)
                log.info("receiving domain %s throttled, paused until %s", key, until)
        rising = {k: n for k, n in successes.items() if k not in throttled}
        if rising:
            ceilings = {k: self.ceiling(k) for k in rising}
            self._slowed -= pacing_store.recover(session, rising, ceilings, self.settings, now)

    def ceiling(self, key: str) -> float:
        """The rate a key returns to: its configured one, or for an unlimited key the rate assumed
        when it was first throttled (past it, it is unlimited again)."""
        return limits(self.settings, key).rate or self.settings.pacing_restart_rate


def _warmup_cap(lim: Limits, st: Pace, now: datetime) -> int:
    """Today's cap of a warm-up (its count starts again each day); past the schedule: none."""
    today = now.date()
    st.first_day = st.first_day or today
    if st.day != today:
        st.day, st.sent_on_day = today, 0
    day = (today - st.first_day).days
    return lim.warmup[day] if day < len(lim.warmup) else 1 << 62

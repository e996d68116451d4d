"""The SQL of pacing: the shared `pacing_state` rows, and deferring a throttled domain's queued rows in
the ledger. Rows are locked (PostgreSQL: FOR UPDATE, in key order so workers never deadlock) for the
transaction that changes them; SQLite's write lock serialises the workers anyway."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col

from app.db import chunks, is_postgresql, update_rows
from app.keyset import decode_cursor
from app.models import Campaign, Delivery, PacingState
from app.models.states import CampaignState, DeliveryState
from app.models.types import TEXT_LENGTH
from app.settings import Settings

_state = PacingState.__table__  # type: ignore[attr-defined]  # SQLModel declares no __table__
_STATE_COLUMNS = (
    "rate",
    "next_slot_at",
    "throttled_until",
    "throttles",
    "successes",
    "last_reply",
    "first_day",
    "day",
    "sent_on_day",
)
DOMAINS_PER_STATEMENT = 200


@dataclass
class Pace:
    """One `pacing_state` row as plain values (read with Core: a claim reads one per domain it meets)."""

    key: str
    rate: float | None
    next_slot_at: datetime | None
    throttled_until: datetime | None
    throttles: int
    successes: int
    last_reply: str | None
    first_day: date | None
    day: date | None
    sent_on_day: int


def _locked(session: Session, keys: list[str]) -> dict[str, Pace]:
    query = select(*(_state.c[c] for c in ("key", *_STATE_COLUMNS))).where(_state.c.key.in_(keys))
    query = query.order_by(_state.c.key)
    if is_postgresql(session):
        query = query.with_for_update()
    return {row[0]: Pace(*row) for row in session.execute(query).tuples()}


def _create(session: Session, keys: list[str], now: datetime) -> None:
    if keys:
        insert = pg_insert if is_postgresql(session) else sqlite_insert
        session.execute(
            insert(_state)
            .values([{"key": k, "throttles": 0, "successes": 0, "sent_on_day": 0, "updated_at": now} for k in keys])
            .on_conflict_do_nothing(index_elements=["key"])
        )


def load(session: Session, keys: list[str], tracked: list[str], now: datetime) -> dict[str, Pace]:
    """The state of these keys, locked for the transaction; the tracked ones (with a rate or a
    warm-up) get a row when they have none yet."""
    states = _locked(session, keys)
    missing = sorted(set(tracked) - set(states))
    if missing:
        _create(session, missing, now)
        states.update(_locked(session, missing))
    return states


# what a claim changes: the rate's next slot and the warm-up's count
ADMISSION_COLUMNS = ("next_slot_at", "first_day", "day", "sent_on_day")


def save(session: Session, states: list[Pace], now: datetime, columns: Sequence[str] = _STATE_COLUMNS) -> None:
    """Write these columns of the states back: one statement whatever their number."""
    if states:
        rows = [{"key": st.key, **{c: getattr(st, c) for c in columns}} for st in states]
        update_rows(session, PacingState, rows, key="key", updated_at=now)


def throttle(
    session: Session, replies: dict[str, str], ceilings: dict[str, float], settings: Settings, now: datetime
) -> dict[str, datetime]:
    """Halve each throttled key's rate (from its ceiling when it had no lowered one) and pause it with a
    backoff that doubles with each throttle in a row; a key already paused (by another worker, or an
    earlier batch) keeps that pause and is not halved twice for it. Returns each key's pause end."""
    keys = sorted(replies)
    _create(session, keys, now)
    out: dict[str, datetime] = {}
    changed = []
    for key, st in _locked(session, keys).items():
        if st.throttled_until is not None and st.throttled_until > now:
            out[key] = st.throttled_until
            continue
        current = st.rate if st.rate is not None else ceilings[key]
        st.rate = max(settings.pacing_min_rate, current / 2)
        st.throttles += 1
        delay = min(settings.pacing_backoff_max_seconds, settings.pacing_backoff_seconds * 2 ** (st.throttles - 1))
        st.throttled_until = st.next_slot_at = now + timedelta(seconds=delay)
        st.successes = 0
        st.last_reply = replies[key][:TEXT_LENGTH]
        out[key] = st.throttled_until
        changed.append(st)
    save(session, changed, now)
    return out


def recover(
    session: Session, successes: dict[str, int], ceilings: dict[str, float], settings: Settings, now: datetime
) -> set[str]:
    """Raise each slowed key's rate by one step per `pacing_increase_every` successes; back at its
    ceiling it is no longer slowed. Returns the keys back at full speed."""
    back: set[str] = set()
    changed = []
    for key, st in _locked(session, sorted(successes)).items():
        if st.rate is None:
            back.add(key)
            continue
        st.successes += successes[key]
        steps, st.successes = divmod(st.successes, settings.pacing_increase_every)
        st.rate += steps * settings.pacing_increase
        if st.rate >= ceilings[key]:
            st.rate, st.throttles, st.successes, st.last_reply = None, 0, 0, None
            back.add(key)
        changed.append(st)
    save(session, changed, now)
    return back


def defer_queued(session: Session, domains: list[str], until: datetime) -> None:
    """Queued rows (due, leased by nobody) of sending campaigns to these domains wait until `until`."""
    sending = select(col(Campaign.id)).where(col(Campaign.state) == CampaignState.SENDING)
    for part in chunks(domains, DOMAINS_PER_STATEMENT):
        queued = select(col(Delivery.id)).where(
            col(Delivery.state).in_(DeliveryState.DUE),
            col(Delivery.lease_owner).is_(None),
            col(Delivery.next_attempt_at) < until,
            col(Delivery.campaign_id).in_(sending.scalar_subquery()),
            or_(*(col(Delivery.email_key).endswith("@" + d, autoescape=True) for d in part)),
        )
        if is_postgresql(session):
            # rows another worker is claiming this moment are skipped (waiting for them could deadlock
            # with its claim, which waits for this domain's state); its claim then reads the pause
            queued = queued.with_for_update(skip_locked=True)
        session.execute(
            update(Delivery)
            .where(col(Delivery.id).in_(queued.scalar_subquery()))
            .values(next_attempt_at=until)
            .execution_options(synchronize_session=False)
        )


def slowed_in_order(now: datetime, cursor: str | None) -> Any:
    """Receiving domains paused now or sending below their rate, by key, after the cursor."""
    query = (
        select(PacingState)
        .where(or_(col(PacingState.rate).is_not(None), col(PacingState.throttled_until) > now))
        .order_by(col(PacingState.key))
    )
    if cursor is not None:
        (last,) = decode_cursor(cursor, (str,))
        query = query.where(col(PacingState.key) > last)
    return query

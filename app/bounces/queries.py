"""The reads of bounce records and the sweep log, for the API, the bounces page and the dashboard."""

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session
from sqlmodel import col

from app.db import where_given
from app.keyset import after_id, after_time_id, fetch
from app.models import Bounce, Campaign, Delivery, MailboxSweep


@dataclass(frozen=True)
class BounceFilter:
    """Which bounce records a list shows: each field given narrows it; a naive `since` is UTC."""

    address_key: str | None = None
    campaign: int | None = None
    kind: str | None = None
    reason: str | None = None
    since: datetime | None = None
    before: datetime | None = None


def bounces_filtered(f: BounceFilter, *, with_delivery: bool = False) -> Any:
    """Bounce records matching the filter; with_delivery selects (bounce, its delivery or None) rows.
    Order it with `bounces_newest_first`."""
    since, before = f.since, f.before
    stmt = (
        select(Bounce, Delivery).outerjoin(Delivery, col(Delivery.id) == col(Bounce.delivery_id))
        if with_delivery
        else select(Bounce)
    )
    stmt = where_given(
        stmt,
        (col(Bounce.email_key), f.address_key),
        (col(Bounce.campaign_id), f.campaign),
        (col(Bounce.kind), f.kind),
        (col(Bounce.reason), f.reason),
    )
    if since is not None:
        stmt = stmt.where(col(Bounce.created_at) >= (since if since.tzinfo else since.replace(tzinfo=UTC)))
    if before is not None:
        stmt = stmt.where(col(Bounce.created_at) < before)
    return stmt


def bounces_newest_first(query: Any, cursor: str | None) -> Any:
    """The filtered bounces after the cursor, newest first: keyed by (created_at, id)."""
    return after_time_id(query, col(Bounce.created_at), col(Bounce.id), cursor)


def bounces_page(session: Session, query: Any, limit: int, cursor: str | None) -> tuple[list[Bounce], str | None]:
    return fetch(session, bounces_newest_first(query, cursor), limit, key=lambda b: (b.created_at, b.id))


def sweeps_newest_first(cursor: str | None) -> Any:
    return after_id(select(MailboxSweep), col(MailboxSweep.id), cursor, descending=True)


def sweeps_page(session: Session, limit: int, cursor: str | None) -> tuple[list[MailboxSweep], str | None]:
    return fetch(session, sweeps_newest_first(cursor), limit)


def last_sweep(session: Session) -> MailboxSweep | None:
    return session.execute(select(MailboxSweep).order_by(col(MailboxSweep.id).desc()).limit(1)).scalars().first()


def bounced_since(session: Session, since: datetime) -> int:
    """Bounces (not delays, complaints, ...) recorded since then."""
    return session.execute(
        select(func.count()).where(col(Bounce.kind) == "bounce", col(Bounce.created_at) >= since)
    ).scalar_one()


def _day_of(column: Any, dialect: str) -> Any:
    """The UTC calendar day of a timestamp, computed by the database."""
    return func.date(column) if dialect == "sqlite" else func.date(func.timezone("UTC", column))


def bounces_per_day_and_reason(session: Session, start: date) -> list[tuple[date, str, int]]:
    """(day, reason, bounces) from `start` on, counted by the database over the created_at index: a
    busy month is a million rows, never fetched."""
    day = _day_of(col(Bounce.created_at), session.get_bind().dialect.name)
    rows = session.execute(
        select(day, col(Bounce.reason), func.count())
        .where(
            col(Bounce.kind) == "bounce", col(Bounce.created_at) >= datetime.combine(start, datetime.min.time(), UTC)
        )
        .group_by(day, col(Bounce.reason))
    ).all()
    # SQLite gives the day as text
    return [(at if isinstance(at, date) else date.fromisoformat(at), reason, n) for at, reason, n in rows]


# the distinct reasons by skipping through the reason index (one seek per reason), not a scan of every bounce
_REASONS = text(
    "WITH RECURSIVE r(reason) AS (SELECT MIN(reason) FROM bounce UNION ALL "
    "SELECT (SELECT MIN(reason) FROM bounce WHERE reason > r.reason) FROM r WHERE r.reason IS NOT NULL) "
    "SELECT reason FROM r WHERE reason IS NOT NULL"
)


def reasons_seen(session: Session) -> list[str]:
    return list(session.execute(_REASONS).scalars())


def campaigns_offered(session: Session, newest: int, chosen: int | None = None) -> list[Any]:
    """(id, name) of the newest campaigns, and of the chosen one when it is older."""
    campaigns = list(
        session.execute(
            select(col(Campaign.id), col(Campaign.name)).order_by(col(Campaign.id).desc()).limit(newest)
        ).all()
    )
    if chosen is not None and all(c.id != chosen for c in campaigns):
        campaigns += session.execute(
            select(col(Campaign.id), col(Campaign.name)).where(col(Campaign.id) == chosen)
        ).all()
    return campaigns

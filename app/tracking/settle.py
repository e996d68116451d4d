"""Settling hits: once a hit is old enough that a scanner's burst on the same message would have shown,
the rules (app/tracking/rules.py) decide whether a person or a machine made it, and the hit is added to
the hourly counts the report reads. Several processes may settle at once (PostgreSQL: each takes rows
the others have not locked)."""

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col

from app.db import chunks, is_postgresql, update_rows
from app.models import CampaignLink, Delivery, TrackingCount, TrackingHit, utcnow
from app.settings import Settings
from app.tracking import rules

BATCH = 5000
# hits still queued in another process when the window closed: a little past the burst window
MARGIN = timedelta(seconds=1)
ANY_CLICK = -1  # the count row of a message's first click of any link


def settle_due(engine: Engine, settings: Settings, now: datetime | None = None) -> int:
    """Settle every hit old enough; the number settled."""
    done = 0
    while True:
        n = settle_batch(engine, settings, now or utcnow())
        done += n
        if n < BATCH:
            return done


def settle_batch(engine: Engine, settings: Settings, now: datetime) -> int:
    burst = timedelta(seconds=settings.tracking_burst_seconds)
    prefetch = timedelta(seconds=settings.tracking_prefetch_seconds)
    with Session(engine) as session:
        query = (
            select(col(TrackingHit.id), col(TrackingHit.campaign_id), col(TrackingHit.delivery_id))
            .add_columns(col(TrackingHit.link), col(TrackingHit.at), col(TrackingHit.signal))
            .where(col(TrackingHit.machine).is_(None), col(TrackingHit.at) <= now - burst - MARGIN)
            .order_by(col(TrackingHit.id))
            .limit(BATCH)
        )
        if is_postgresql(session):
            query = query.with_for_update(skip_locked=True)
        due = session.execute(query).all()
        if not due:
            return 0
        deliveries = sorted({d for _, _, d, *_ in due if d is not None})
        sent = _sent_at(session, deliveries)
        links = _link_counts(session, {c for _, c, *_ in due})
        earlier, seen = _history(session, deliveries, min(r[4] for r in due) - burst - rules.SCANNER_OPEN_LEAD)
        mine = {r[0] for r in due}
        by_message: dict[Any, list[rules.Seen]] = defaultdict(list)
        campaign_of: dict[int, int] = {}
        for hit_id, campaign_id, delivery_id, link, at, signal in due:
            campaign_of[hit_id] = campaign_id
            key = delivery_id if delivery_id is not None else ("anonymous", hit_id)
            by_message[key].append(rules.Seen(hit_id, link, at, signal))
        verdicts: dict[int, tuple[rules.Seen, int | None]] = {}
        for key, hits in by_message.items():
            delivery_id = key if isinstance(key, int) else None
            context = [rules.Seen(*h) for h in earlier.get(delivery_id, [])] if delivery_id is not None else []
            whole = sorted([*context, *hits], key=lambda h: (h.at, h.id))
            campaign_id = campaign_of[hits[0].id]
            rules.judge(
                whole, sent.get(delivery_id) if delivery_id else None, links.get(campaign_id, 0), prefetch, burst
            )
            for h in whole:
                if h.id in mine:
                    verdicts[h.id] = (h, delivery_id)
        update_rows(
            session,
            TrackingHit,
            [{"id": i, "machine": bool(h.verdict), "reason": h.verdict or None} for i, (h, _) in verdicts.items()],
        )
        _count(session, [(campaign_of[i], d, h) for i, (h, d) in sorted(verdicts.items())], seen)
        session.commit()
        return len(due)


def _sent_at(session: Session, deliveries: list[int]) -> dict[int, datetime]:
    out: dict[int, datetime] = {}
    for part in chunks(deliveries, 1000):
        rows = session.execute(select(col(Delivery.id), col(Delivery.sent_at)).where(col(Delivery.id).in_(part)))
        out.update({i: s for i, s in rows.all() if s is not None})
    return out


def _link_counts(session: Session, campaigns: Iterable[int]) -> dict[int, int]:
    rows = session.execute(
        select(col(CampaignLink.campaign_id), func.count())
        .where(col(CampaignLink.campaign_id).in_(sorted(campaigns)))
        .group_by(col(CampaignLink.campaign_id))
    )
    return {int(c): int(n) for c, n in rows.all()}


def _history(
    session: Session, deliveries: list[int], since: datetime
) -> tuple[dict[int, list[tuple[Any, ...]]], set[tuple[int, int, bool]]]:
    """The settled hits of these messages: those since SINCE (context for the burst rule) and which
    (delivery, link, machine) each message already has (so a first is counted once)."""
    near: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    seen: set[tuple[int, int, bool]] = set()
    h = TrackingHit
    for part in chunks(deliveries, 1000):
        rows = session.execute(
            select(col(h.id), col(h.delivery_id), col(h.link), col(h.at))
            .add_columns(col(h.signal), col(h.reason), col(h.machine))
            .where(col(h.delivery_id).in_(part), col(h.machine).is_not(None))
        ).all()
        for hit_id, delivery_id, link, at, signal, reason, machine in rows:
            seen.add((delivery_id, link, machine))
            if link != 0:
                seen.add((delivery_id, ANY_CLICK, machine))
            if at >= since:
                near[delivery_id].append((hit_id, link, at, signal, reason or ""))
    return near, seen


def _count(
    session: Session, settled: list[tuple[int, int | None, rules.Seen]], seen: set[tuple[int, int, bool]]
) -> None:
    """Add settled hits to the hourly counts (one upsert; rows in key order, so two settlers never
    wait on each other in a circle)."""
    counts: dict[tuple[int, datetime, int, str], list[int]] = defaultdict(lambda: [0, 0])
    for campaign_id, delivery_id, h in sorted(settled, key=lambda s: (s[2].at, s[2].id)):
        machine, reason = bool(h.verdict), h.verdict or ""
        hour = h.at.replace(minute=0, second=0, microsecond=0)
        row = counts[(campaign_id, hour, h.link, reason)]
        row[0] += 1
        if delivery_id is None:
            continue
        if (delivery_id, h.link, machine) not in seen:
            seen.add((delivery_id, h.link, machine))
            row[1] += 1
        if h.link != 0 and (delivery_id, ANY_CLICK, machine) not in seen:
            seen.add((delivery_id, ANY_CLICK, machine))
            counts[(campaign_id, hour, ANY_CLICK, reason)][1] += 1
    if not counts:
        return
    values = [
        {"campaign_id": c, "hour": hr, "link": lk, "reason": r, "hits": n, "firsts": f}
        for (c, hr, lk, r), (n, f) in sorted(counts.items())
    ]
    insert = pg_insert if is_postgresql(session) else sqlite_insert
    stmt = insert(TrackingCount).values(values)
    stmt = stmt.on_conflict_do_update(
        index_elements=["campaign_id", "hour", "link", "reason"],
        set_={
            "hits": col(TrackingCount.hits) + stmt.excluded.hits,
            "firsts": col(TrackingCount.firsts) + stmt.excluded.firsts,
        },
    )
    session.execute(stmt)

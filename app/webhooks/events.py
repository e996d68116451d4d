"""Emit events inside the caller's transaction: the event and one delivery row per subscribed endpoint
are written with the fact itself, so a crash after the commit loses nothing and a rollback sends nothing."""

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlmodel import Session, col

from app.models import Campaign, WebhookDelivery, WebhookEndpoint, WebhookEvent, utcnow
from app.models.states import BounceKind

# what the sweep and the ledger record as a Bounce kind -> the event an integrator subscribes to
EVENT_FOR_KIND = {BounceKind.BOUNCE: "bounce", BounceKind.COMPLAINT: "complaint", BounceKind.UNSUBSCRIBE: "unsubscribe"}


def _subscribers(session: Session, event_type: str) -> list[int]:
    rows = session.execute(
        select(col(WebhookEndpoint.id), col(WebhookEndpoint.events)).where(col(WebhookEndpoint.active))
    ).all()
    return [endpoint_id for endpoint_id, events in rows if event_type in events]


def emit(session: Session, event_type: str, items: Sequence[dict[str, Any]], now: datetime | None = None) -> int:
    """Store one event per item for every endpoint subscribed to `event_type`; returns events stored."""
    if not items:
        return 0
    return _store(session, event_type, items, _subscribers(session, event_type), now)


def emit_to(
    session: Session, endpoint_id: int, event_type: str, items: Sequence[dict[str, Any]], now: datetime | None = None
) -> int:
    """Store one event per item for this endpoint alone (an automation's webhook step), if it is active."""
    endpoint = session.get(WebhookEndpoint, endpoint_id)
    if not items or endpoint is None or not endpoint.active:
        return 0
    return _store(session, event_type, items, [endpoint_id], now)


def _store(
    session: Session, event_type: str, items: Sequence[dict[str, Any]], endpoints: list[int], now: datetime | None
) -> int:
    if not endpoints:
        return 0
    now = now or utcnow()
    rows = [{"type": event_type, "data": data, "created_at": now} for data in items]
    ids = (
        session.execute(insert(WebhookEvent).returning(col(WebhookEvent.id), sort_by_parameter_order=True), rows)
        .scalars()
        .all()
    )
    deliveries = [
        {
            "event_id": event_id,
            "endpoint_id": endpoint_id,
            "state": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for event_id in ids
        for endpoint_id in endpoints
    ]
    session.execute(insert(WebhookDelivery), deliveries)
    return len(ids)


def _finding(row: dict[str, Any]) -> dict[str, Any]:
    data = {k: row.get(k) for k in ("email", "campaign_id", "delivery_id")}
    if row["kind"] == BounceKind.BOUNCE:
        data.update({k: row.get(k) for k in ("reason", "hard", "status", "reply_code", "diagnostic", "source")})
    return data


def emit_findings(session: Session, rows: Iterable[dict[str, Any]], now: datetime | None = None) -> None:
    """Bounce, complaint and unsubscribe events for Bounce rows (as dicts) just recorded."""
    by_event: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        event_type = EVENT_FOR_KIND.get(row["kind"])
        if event_type == "unsubscribe" and row.get("suppression_id") is None:
            continue  # a stranger's mailed command: it unsubscribed nobody
        if event_type is not None:
            by_event.setdefault(event_type, []).append(_finding(row))
    for event_type, items in by_event.items():
        emit(session, event_type, items, now)


def emit_unsubscribe(
    session: Session,
    email: str,
    source: str,
    campaign_id: int | None = None,
    delivery_id: int | None = None,
    list_ids: Sequence[int | None] | None = None,
) -> None:
    """LIST_IDS: the lists the address left; None: every list."""
    data = {"email": email, "campaign_id": campaign_id, "delivery_id": delivery_id, "source": source}
    emit(session, "unsubscribe", [{**data, "list_ids": None if list_ids is None else list(list_ids)}])


def emit_completed(session: Session, campaign_ids: Sequence[int], now: datetime) -> None:
    if not campaign_ids or not _subscribers(session, "campaign.completed"):
        return
    rows = session.execute(
        select(col(Campaign.id), col(Campaign.name), col(Campaign.audience_counts)).where(
            col(Campaign.id).in_(campaign_ids)
        )
    ).all()
    emit(
        session,
        "campaign.completed",
        [
            {"campaign_id": cid, "name": name, "completed_at": now.isoformat(), "audience_counts": counts}
            for cid, name, counts in rows
        ],
        now,
    )


def emit_paused(
    session: Session, campaign_id: int, reason: str, now: datetime, cause: str, guard: dict[str, Any] | None = None
) -> None:
    """`campaign.paused`: bulkmail paused a campaign by itself. CAUSE: guard (a complaint or bounce rate
    past its threshold; GUARD holds the rate, the threshold and the counts) or relay (a relay problem
    that would fail every recipient)."""
    if not _subscribers(session, "campaign.paused"):
        return
    name = session.execute(select(col(Campaign.name)).where(col(Campaign.id) == campaign_id)).scalar_one_or_none()
    data = {"campaign_id": campaign_id, "name": name, "paused_at": now.isoformat(), "cause": cause, "reason": reason}
    emit(session, "campaign.paused", [{**data, "guard": guard}], now)

"""Engagement for the segments language: the contacts whose messages a person opened or clicked, as a
selectable of contact ids the segment compiler can put into `contact.id IN (...)`. Only per-contact
tracking knows whose message a hit was, and only people's hits count (machine hits are no engagement)."""

from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Select, select
from sqlmodel import col

from app.models import Delivery, TrackingHit, utcnow

Kind = Literal["opened", "clicked"]


def engaged_contacts(
    kind: Kind, campaign_id: int | None = None, within_days: int | None = None, now: datetime | None = None
) -> Select[Any]:
    """Contact ids that opened (the pixel, or any click: a click is a read) or clicked a message of
    CAMPAIGN_ID (any campaign when None), within the last WITHIN_DAYS (ever when None)."""
    hit, delivery = TrackingHit, Delivery
    query = (
        select(col(delivery.contact_id))
        .join(hit, col(hit.delivery_id) == col(delivery.id))
        .where(col(hit.machine).is_(False), col(delivery.contact_id).is_not(None))
    )
    if kind == "clicked":
        query = query.where(col(hit.link) > 0)
    if campaign_id is not None:
        query = query.where(col(hit.campaign_id) == campaign_id)
    if within_days is not None:
        query = query.where(col(hit.at) >= (now or utcnow()) - timedelta(days=within_days))
    return query.distinct()

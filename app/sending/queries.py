"""The reads of campaigns and their ledger, for the API, the campaign pages and the dashboard."""

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlmodel import col

from app.keyset import after_id, fetch
from app.models import Bounce, Campaign, Contact, Delivery, DeliveryAttempt, ListMember
from app.models.states import CampaignKind
from app.sending.campaigns import USER_PAUSE

WHOLE_ADDRESS = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")  # local part, @, a domain with a dot


# the campaigns people make; the transactional streams are shown by their messages (GET /api/v1/messages)
_BULK = col(Campaign.kind) == CampaignKind.BULK


def campaigns_newest_first(cursor: str | None, state: str | None = None) -> Any:
    query = select(Campaign).where(_BULK)
    if state:
        query = query.where(col(Campaign.state) == state)
    return after_id(query, col(Campaign.id), cursor, descending=True)


def campaigns_page(
    session: Session, limit: int, cursor: str | None, state: str | None = None
) -> tuple[list[Campaign], str | None]:
    return fetch(session, campaigns_newest_first(cursor, state), limit)


def recent_campaigns(session: Session, limit: int) -> Sequence[Campaign]:
    return session.execute(select(Campaign).where(_BULK).order_by(col(Campaign.id).desc()).limit(limit)).scalars().all()


def paused_by_error(session: Session, limit: int) -> Sequence[Campaign]:
    """Campaigns paused by the sender (relay, authentication, ...) rather than by a user, newest first."""
    return (
        session.execute(
            select(Campaign)
            .where(col(Campaign.state) == "paused", col(Campaign.paused_reason) != USER_PAUSE)
            .order_by(col(Campaign.id).desc())
            .limit(limit)
        )
        .scalars()
        .all()
    )


def deliveries_in_order(
    campaign_id: int, cursor: str | None, email: str | None = None, state: str | None = None
) -> Any:
    """The campaign's ledger rows after the cursor, in id order; `email` matches part of the address, and a
    whole address (`ann@example.com`) finds that address: through the ledger's unique (campaign, address)
    index, where a part is looked for in every row of the campaign until a page is full (seconds in a ledger
    of millions when few rows match)."""
    query = select(Delivery).where(col(Delivery.campaign_id) == campaign_id)
    term = (email or "").strip().lower()
    if WHOLE_ADDRESS.fullmatch(term):
        query = query.where(col(Delivery.email_key) == term)
    elif term:
        query = query.where(col(Delivery.email_key).contains(term, autoescape=True))
    if state:
        query = query.where(col(Delivery.state) == state)
    return after_id(query, col(Delivery.id), cursor)


def deliveries_page(
    session: Session,
    campaign_id: int,
    limit: int,
    cursor: str | None,
    email: str | None = None,
    state: str | None = None,
) -> tuple[list[Delivery], str | None]:
    return fetch(session, deliveries_in_order(campaign_id, cursor, email, state), limit)


def attempts_and_bounces(
    session: Session, delivery_ids: list[int]
) -> tuple[dict[int, list[DeliveryAttempt]], dict[int, list[Bounce]]]:
    """Every attempt and every bounce of these deliveries, by delivery id, oldest first."""
    attempts: dict[int, list[DeliveryAttempt]] = {}
    for a in session.execute(
        select(DeliveryAttempt)
        .where(col(DeliveryAttempt.delivery_id).in_(delivery_ids))
        .order_by(col(DeliveryAttempt.at))
    ).scalars():
        attempts.setdefault(a.delivery_id, []).append(a)
    bounces: dict[int, list[Bounce]] = {}
    for b in session.execute(
        select(Bounce).where(col(Bounce.delivery_id).in_(delivery_ids)).order_by(col(Bounce.created_at))
    ).scalars():
        if b.delivery_id is not None:  # always: the query asks for these deliveries
            bounces.setdefault(b.delivery_id, []).append(b)
    return attempts, bounces


def sent_since(session: Session, since: datetime) -> int:
    return session.execute(select(func.count()).where(col(Delivery.sent_at) >= since)).scalar_one()


def first_contact(session: Session, list_ids: list[int]) -> tuple[str, str | None, str | None, dict[str, Any]] | None:
    """(email, first name, last name, attributes) of the lists' first contact; None when they have none."""
    if not list_ids:
        return None
    row = session.execute(
        select(col(Contact.email), col(Contact.first_name), col(Contact.last_name), col(Contact.attributes))
        .join(ListMember, col(ListMember.contact_id) == col(Contact.id))
        .where(col(ListMember.list_id).in_(list_ids))
        .order_by(col(Contact.id))
        .limit(1)
    ).first()
    return None if row is None else (row[0], row[1], row[2], row[3] or {})

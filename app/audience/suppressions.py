"""Suppressions added by hand, over the API or by an unsubscribe link."""

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from app.addresses import normalise
from app.audience.queries import is_suppressed
from app.db import save_given
from app.models import Contact, Suppression, utcnow
from app.subscription import consent
from app.webhooks.events import emit_unsubscribe


class AlreadySuppressed(ValueError):
    def __init__(self, existing: Suppression) -> None:
        super().__init__(f"{existing.email} is already suppressed ({existing.reason}, id {existing.id})")
        self.existing = existing


def add(session: Session, email: str, reason: str, source: str, note: str, now: datetime) -> Suppression:
    """Suppress an address; raises InvalidAddress or AlreadySuppressed. The caller commits, which
    also stores the `unsubscribe` webhook event of an unsubscription with the fact."""
    address = normalise(email)
    existing = session.execute(select(Suppression).where(col(Suppression.email_key) == address.key)).scalars().first()
    if existing is not None:
        raise AlreadySuppressed(existing)
    suppression = Suppression(
        email=address.email, email_key=address.key, reason=reason, source=source, note=note, created_at=now
    )
    session.add(suppression)
    session.flush()
    if reason == "unsubscribed":
        emit_unsubscribe(session, suppression.email, source)
    return suppression


def change(session: Session, suppression: Suppression, reason: str | None, note: str | None) -> None:
    """Set what is given (None keeps the value); the caller commits."""
    save_given(session, suppression, reason=reason, note=note)


def remove(session: Session, suppression: Suppression) -> None:
    """The address becomes mailable again once the caller commits."""
    session.delete(suppression)


def unsubscribe(
    session: Session,
    email: str,
    key: str,
    source: str,
    campaign_id: int | None,
    delivery_id: int | None,
    actor: consent.Actor | None = None,
) -> None:
    """Suppress the address as unsubscribed, with the `unsubscribe` webhook event and a row in the
    contact's consent ledger (ACTOR: the one-click header or the page, with IP and user agent), and
    commit; an address already suppressed keeps its first reason (the ledger still gets the request)."""
    now = utcnow()
    contact_id = session.execute(select(col(Contact.id)).where(col(Contact.email_key) == key)).scalar()

    def record() -> None:
        if contact_id is not None:
            where = f"campaign {campaign_id}" if campaign_id is not None else source
            entry = consent.Entry(contact_id, consent.Action.UNSUBSCRIBE, None, where)
            consent.append_one(session, entry, actor or consent.Actor(consent.ActorKind.UNSUBSCRIBE_PAGE), now)

    record()
    if is_suppressed(session, key):
        session.commit()
        return
    session.add(
        Suppression(
            email=email,
            email_key=key,
            reason="unsubscribed",
            source=source,
            campaign_id=campaign_id,
            delivery_id=delivery_id,
            created_at=now,
        )
    )
    emit_unsubscribe(session, email, source, campaign_id, delivery_id)
    try:
        session.commit()
    except IntegrityError:  # a concurrent click got there first: its suppression stands, the request is recorded
        session.rollback()
        record()
        session.commit()

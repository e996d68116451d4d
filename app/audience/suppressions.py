"""Suppressions added by hand, over the API or by an unsubscribe link."""

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from app.addresses import normalise
from app.audience.queries import every_list, is_suppressed
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
    existing = (
        session.execute(select(Suppression).where(col(Suppression.email_key) == address.key, every_list()))
        .scalars()
        .first()
    )
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
    list_ids: Sequence[int] | None = None,
) -> None:
    """Suppress the address as unsubscribed from LIST_IDS (None: from every list), with the `unsubscribe`
    webhook event and a row per list (or one for all) in the contact's consent ledger (ACTOR: the one-click
    header, a page, a mailed command, with IP and user agent), and commit. A scope already suppressed
    keeps its first reason, and an address suppressed from every list gets no list rows (the ledger still
    gets the request)."""
    now = utcnow()
    contact_id = session.execute(select(col(Contact.id)).where(col(Contact.email_key) == key)).scalar()
    scopes: list[int | None] = [None] if list_ids is None else list(dict.fromkeys(list_ids))

    def record() -> None:
        if contact_id is not None:
            where = f"campaign {campaign_id}" if campaign_id is not None else source
            who = actor or consent.Actor(consent.ActorKind.UNSUBSCRIBE_PAGE)
            entries = [consent.Entry(contact_id, consent.Action.UNSUBSCRIBE, s, where) for s in scopes]
            consent.append(session, entries, who, now)

    record()
    missing = [] if is_suppressed(session, key) else [s for s in scopes if s not in _scopes_of(session, key)]
    if not missing:
        session.commit()
        return
    for scope in missing:
        session.add(
            Suppression(
                email=email,
                email_key=key,
                reason="unsubscribed",
                source=source,
                campaign_id=campaign_id,
                delivery_id=delivery_id,
                list_id=scope,
                created_at=now,
            )
        )
    emit_unsubscribe(session, email, source, campaign_id, delivery_id, None if list_ids is None else missing)
    try:
        session.commit()
    except IntegrityError:  # a concurrent click got there first: its suppression stands, the request is recorded
        session.rollback()
        record()
        session.commit()


def _scopes_of(session: Session, key: str) -> set[int | None]:
    """The scopes (a list id, or None for every list) the address is suppressed in."""
    return set(session.execute(select(col(Suppression.list_id)).where(col(Suppression.email_key) == key)).scalars())

"""Suppressions added by hand or over the API."""

from datetime import datetime

from sqlalchemy import select
from sqlmodel import Session

from app.addresses import normalise
from app.models import Suppression
from app.webhooks.events import emit_unsubscribe


class AlreadySuppressed(ValueError):
    def __init__(self, existing: Suppression) -> None:
        super().__init__(f"{existing.email} is already suppressed ({existing.reason}, id {existing.id})")
        self.existing = existing


def add(session: Session, email: str, reason: str, source: str, note: str, now: datetime) -> Suppression:
    """Suppress an address; raises InvalidAddress or AlreadySuppressed. The caller commits, which
    also stores the `unsubscribe` webhook event of an unsubscription with the fact."""
    address = normalise(email)
    existing = session.execute(select(Suppression).where(Suppression.email_key == address.key)).scalars().first()
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

"""Small builders for audience tests."""

from datetime import datetime, timedelta

from sqlmodel import Session

from app.addresses import normalise
from app.audience.store import ContactRow, upsert_batch
from app.models import Bounce, MailingList, Suppression, utcnow


def make_list(session: Session, name: str) -> MailingList:
    ml = MailingList(name=name)
    session.add(ml)
    session.commit()  # and no refresh: on SQLite an open transaction holds the write lock
    return ml


def add_contacts(session: Session, ml: MailingList, *addresses: str, source: str = "api") -> None:
    rows = []
    for raw in addresses:
        a = normalise(raw)
        rows.append(ContactRow(email=a.email, key=a.key, is_role=a.is_role))
    upsert_batch(session, rows, ml.id, source, None, utcnow())  # type: ignore[arg-type]
    session.commit()


def suppress(
    session: Session,
    address: str,
    reason: str,
    source: str = "test",
    when: datetime | None = None,
    list_id: int | None = None,
) -> None:
    """A suppression from every list, or (LIST_ID) from that list only."""
    a = normalise(address)
    session.add(
        Suppression(
            email=a.email, email_key=a.key, reason=reason, source=source, created_at=when or utcnow(), list_id=list_id
        )
    )
    session.commit()


def bounce(session: Session, address: str, hard: bool, days_ago: float = 0, diagnostic: str = "") -> None:
    a = normalise(address)
    session.add(
        Bounce(
            kind="bounce",
            reason="user_unknown" if hard else "mailbox_full",
            hard=hard,
            email=a.email,
            email_key=a.key,
            status="5.1.1" if hard else "4.2.2",
            diagnostic=diagnostic,
            attribution="verp",
            created_at=utcnow() - timedelta(days=days_ago),
        )
    )
    session.commit()

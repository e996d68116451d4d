"""Mailing lists: the changes with a rule of their own (the reads are in app.audience.queries)."""

from sqlmodel import Session

from app.models import ListMember, MailingList


def delete_list(session: Session, ml: MailingList) -> None:
    """Delete the list and its memberships; the contacts stay. The caller commits."""
    session.execute(ListMember.__table__.delete().where(ListMember.list_id == ml.id))  # type: ignore[attr-defined]  # SQLModel does not type __table__
    session.delete(ml)

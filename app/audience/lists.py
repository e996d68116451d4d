"""Mailing lists: the changes with a rule of their own (the reads are in app.audience.queries)."""

from sqlmodel import Session

from app.audience.queries import list_named
from app.db import save_given
from app.models import ListMember, MailingList


class ListNameTaken(ValueError):
    def __init__(self, name: str, existing: int) -> None:
        super().__init__(f'a list named "{name}" already exists (id {existing})')
        self.name = name


def save(
    session: Session, ml: MailingList, name: str | None, description: str | None, archive: bool | None = None
) -> None:
    """Set what is given (None keeps the value) on a new or stored list; raises ListNameTaken when another
    list has the name. The caller commits."""
    if name is not None and (existing := list_named(session, name)) is not None and existing != ml.id:
        raise ListNameTaken(name, existing)
    save_given(session, ml, name=name, description=description, archive=archive)


def delete_list(session: Session, ml: MailingList) -> None:
    """Delete the list and its memberships; the contacts stay. The caller commits."""
    session.execute(ListMember.__table__.delete().where(ListMember.list_id == ml.id))  # type: ignore[attr-defined]  # SQLModel does not type __table__
    session.delete(ml)

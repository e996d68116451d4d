"""A list membership goes with its contact and with its list, whichever code deletes them (the
database does it: memberships carry no foreign keys, triggers remove them)."""

from sqlalchemy import delete, func, select
from sqlmodel import Session, col

from app.models import Contact, ListMember, MailingList
from tests.audience.support import add_contacts, make_list


def _members(session: Session) -> list[tuple[int, str]]:
    rows = session.execute(
        select(col(ListMember.list_id), col(Contact.email_key)).join(
            Contact, col(Contact.id) == col(ListMember.contact_id), isouter=True
        )
    )
    return sorted((list_id, key) for list_id, key in rows)


def test_deleting_a_contact_or_a_list_deletes_their_memberships(session: Session) -> None:
    a, b = make_list(session, "a"), make_list(session, "b")
    add_contacts(session, a, "ann@example.com", "bob@example.com")
    add_contacts(session, b, "ann@example.com", "cy@example.com")

    session.execute(delete(Contact).where(col(Contact.email_key) == "ann@example.com"))
    session.commit()
    assert _members(session) == [(a.id, "bob@example.com"), (b.id, "cy@example.com")]

    session.execute(delete(MailingList).where(col(MailingList.id) == b.id))
    session.commit()
    assert _members(session) == [(a.id, "bob@example.com")]
    assert session.execute(select(func.count()).select_from(Contact)).scalar_one() == 2  # contacts stay

"""Lists with a signup form, and what a signup left behind."""

from typing import Any

from sqlalchemy import Engine, select
from sqlmodel import Session, col

from app.models import ConsentEvent, Contact, ListMember, MailingList, TransactionalMessage
from app.subscription import forms
from app.subscription.signup import take_requests


def signup_list(engine: Engine, name: str = "Newsletter", **changes: Any) -> int:
    """A list with a public form (double opt-in unless told), and the changes given."""
    with Session(engine) as s:
        ml = MailingList(name=name)
        s.add(ml)
        s.flush()
        forms.save(s, ml, forms.Changes(**{"public": True, **changes}))
        s.commit()
        assert ml.id is not None
        return ml.id


def membership(engine: Engine, list_id: int, address: str) -> str | None:
    """The status of the address's membership in the list; None when it is not in it."""
    with Session(engine) as s:
        row = s.execute(
            select(col(ListMember.status))
            .join(Contact, col(Contact.id) == ListMember.contact_id)
            .where(col(ListMember.list_id) == list_id, col(Contact.email_key) == address.lower())
        ).first()
        return None if row is None else str(row[0])


def contact_id(engine: Engine, address: str) -> int | None:
    with Session(engine) as s:
        return s.execute(select(col(Contact.id)).where(col(Contact.email_key) == address.lower())).scalar()


def ledger(engine: Engine, contact: int) -> list[ConsentEvent]:
    with Session(engine) as s:
        return list(
            s.execute(
                select(ConsentEvent).where(col(ConsentEvent.contact_id) == contact).order_by(col(ConsentEvent.id))
            )
            .scalars()
            .all()
        )


def messages(engine: Engine) -> list[TransactionalMessage]:
    with Session(engine) as s:
        return list(s.execute(select(TransactionalMessage).order_by(col(TransactionalMessage.id))).scalars().all())


def job_ran(engine: Engine) -> None:
    """What the background job does moments after a signup was answered: carry the signups out."""
    take_requests(engine)

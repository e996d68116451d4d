"""The reads of lists, imports and suppressions, for the API and the pages."""

from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import Engine, func, or_, select
from sqlmodel import Session, col

from app.keyset import after_id, after_name_id, fetch
from app.models import Campaign, Contact, ImportJob, ImportReject, ListMember, MailingList, Suppression

# --- lists -----------------------------------------------------------------------------------------


def lists_by_name(session: Session) -> Sequence[MailingList]:
    """Every list, for a chooser (the lists are few; contacts are not)."""
    return session.execute(select(MailingList).order_by(col(MailingList.name))).scalars().all()


def list_names(session: Session) -> dict[int, str]:
    return dict(session.execute(select(col(MailingList.id), col(MailingList.name))).all())


def all_list_ids(session: Session) -> list[int]:
    return list(session.execute(select(col(MailingList.id))).scalars())


def list_named(session: Session, name: str) -> int | None:
    """The id of the list with this name, if there is one."""
    return session.execute(select(col(MailingList.id)).where(col(MailingList.name) == name)).scalar()


def member_count(session: Session, list_id: int) -> int:
    return session.execute(select(func.count()).where(col(ListMember.list_id) == list_id)).scalar_one()


def member_counts(session: Session, list_ids: list[int]) -> dict[int, int]:
    """The sizes of these lists (a list without members is missing), each counted on the membership's key."""
    return dict(
        session.execute(
            select(col(ListMember.list_id), func.count())
            .where(col(ListMember.list_id).in_(list_ids))
            .group_by(col(ListMember.list_id))
        ).all()
    )


def lists_in_order(cursor: str | None) -> Any:
    """Lists in the order they were created."""
    return after_id(select(MailingList), col(MailingList.id), cursor)


def lists_page(session: Session, limit: int, cursor: str | None) -> tuple[list[MailingList], str | None]:
    return fetch(session, lists_in_order(cursor), limit)


def lists_alphabetically(cursor: str | None) -> Any:
    return after_name_id(select(MailingList), col(MailingList.name), col(MailingList.id), cursor)


# --- imports ---------------------------------------------------------------------------------------


def imports_newest_first(list_id: int, cursor: str | None) -> Any:
    return after_id(
        select(ImportJob).where(col(ImportJob.list_id) == list_id), col(ImportJob.id), cursor, descending=True
    )


def imports_page(session: Session, list_id: int, limit: int, cursor: str | None) -> tuple[list[ImportJob], str | None]:
    return fetch(session, imports_newest_first(list_id, cursor), limit)


def rejects_of(import_id: int) -> Any:
    """An import's rejected rows (order them with rejects_in_order, or stream them)."""
    return select(ImportReject).where(col(ImportReject.import_id) == import_id)


def rejects_in_order(import_id: int, cursor: str | None) -> Any:
    """The rejected rows after the cursor, in file order."""
    return after_id(rejects_of(import_id), col(ImportReject.id), cursor)


def rejects_page(
    session: Session, import_id: int, limit: int, cursor: str | None
) -> tuple[list[ImportReject], str | None]:
    return fetch(session, rejects_in_order(import_id, cursor), limit)


def all_rejects(session: Session, import_id: int) -> Sequence[ImportReject]:
    return session.execute(rejects_of(import_id).order_by(col(ImportReject.id))).scalars().all()


# --- suppressions ----------------------------------------------------------------------------------


def every_list() -> Any:
    """A suppression from every list (an unsubscribe from one list names its list_id)."""
    return col(Suppression.list_id).is_(None)


def suppressions_filtered(reason: str | None = None, email_key: str | None = None, search: str | None = None) -> Any:
    """Suppressions matching every filter given: the reason, the address (by its dedupe key), and
    `search` found in the address (case-insensitively) or in the note."""
    query = select(Suppression)
    if search:
        query = query.where(
            or_(
                col(Suppression.email_key).contains(search.lower(), autoescape=True),
                col(Suppression.note).contains(search, autoescape=True),
            )
        )
    if reason:
        query = query.where(col(Suppression.reason) == reason)
    if email_key:
        query = query.where(col(Suppression.email_key) == email_key)
    return query


def suppressions_newest_first(query: Any, cursor: str | None) -> Any:
    return after_id(query, col(Suppression.id), cursor, descending=True)


def suppressions_page(
    session: Session, query: Any, limit: int, cursor: str | None
) -> tuple[list[Suppression], str | None]:
    return fetch(session, suppressions_newest_first(query, cursor), limit)


def all_suppressions(session: Session, reason: str | None = None) -> Sequence[Suppression]:
    return session.execute(suppressions_filtered(reason).order_by(col(Suppression.id))).scalars().all()


def is_suppressed(session: Session, email_key: str) -> bool:
    """Whether the address may not be mailed on any list."""
    query = select(col(Suppression.id)).where(col(Suppression.email_key) == email_key, every_list())
    return session.execute(query).first() is not None


def campaign_lists(session: Session, campaign_ids: Sequence[int]) -> dict[int, dict[int, str]]:
    """Campaign id -> the lists it was sent to that still exist (id -> name): what an unsubscribe tied to
    one of its messages leaves."""
    chosen = {
        cid: [int(i) for i in ids]
        for cid, ids in session.execute(
            select(col(Campaign.id), col(Campaign.list_ids)).where(col(Campaign.id).in_(campaign_ids))
        ).tuples()
    }
    wanted = sorted({i for ids in chosen.values() for i in ids})
    names = dict(
        session.execute(select(col(MailingList.id), col(MailingList.name)).where(col(MailingList.id).in_(wanted)))
        .tuples()
        .all()
    )
    return {cid: {i: names[i] for i in ids if i in names} for cid, ids in chosen.items()}


def unsubscribe_scope(session: Session, campaign_id: int | None, email_key: str) -> dict[int, str] | None:
    """The lists (id -> name) an unsubscribe tied to a message of the campaign leaves: those of the
    campaign's lists the address is on (all of them when it is on none any more). None, every list: no
    campaign, or none of its lists is left."""
    if campaign_id is None:
        return None
    lists = campaign_lists(session, [campaign_id]).get(campaign_id)
    if not lists:
        return None
    on = set(
        session.execute(
            select(col(ListMember.list_id))
            .join(Contact, col(Contact.id) == ListMember.contact_id)
            .where(col(Contact.email_key) == email_key, col(ListMember.list_id).in_(list(lists)))
        ).scalars()
    )
    return {i: name for i, name in lists.items() if i in on} or lists


def unsubscribed_lists(session: Session, email_key: str) -> set[int]:
    """The lists the address unsubscribed from one by one."""
    query = select(col(Suppression.list_id)).where(col(Suppression.email_key) == email_key, ~every_list())
    return {i for i in session.execute(query).scalars() if i is not None}


# --- downloads -------------------------------------------------------------------------------------


def streamed(engine: Engine, query: Any, model: Any, page: int = 2000) -> Iterator[Any]:
    """Rows of a streamed download in id order, one short transaction per page: a slow client must not
    hold SQLite's write lock (every transaction takes it) for the whole download."""
    last = 0
    while True:
        with Session(engine, expire_on_commit=False) as s:
            rows = s.execute(query.where(model.id > last).order_by(model.id).limit(page)).scalars().all()
        if not rows:
            return
        yield from rows
        last = rows[-1].id

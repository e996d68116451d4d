"""Finding contacts: a search by any part of the address, a name or an attribute value, in pages of
newest first, alone or within a list and a status, fast at a million contacts.

The text a contact is found by lives in `contact_search` (one row per contact) with a trigram index:
PostgreSQL's pg_trgm GIN, SQLite's FTS5 trigram table (see migration 0008). Writes that change one
contact (the contact page, the API, a CMS push) re-index it at once; an import leaves the rows it adds
or changes unindexed and `index_missing` catches up when an upload's import ends (and every two
minutes in the service, for `bulkmail import` and for an import whose process died), so a big import is not slowed by the index: its contacts are listed at
once, and found by search once the catch-up has reached them.
A search shorter than three characters (less than one trigram) matches the start of the address."""

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, column, delete, exists, select, table
from sqlmodel import Session, col

from app.audience.queries import every_list
from app.db import chunks, is_postgresql, session_scope
from app.keyset import after_id, fetch
from app.models import Contact, ContactSearch, ListMember, Suppression

CATCH_UP_ROWS = 2000  # a commit each: on SQLite the write lock is held for one chunk at most
SEARCH_MAX = 200
STATUSES = ("active", "suppressed", "unsubscribed", "bounced", "complained", "manual")


def body_of(email_key: str, first: str | None, last: str | None, attributes: Any) -> str:
    """What a contact is found by, in lower case: address, names, then every attribute value."""
    values: Iterable[Any] = attributes.values() if isinstance(attributes, dict) else ()
    parts = [email_key, first or "", last or "", *(str(v) for v in values if v not in (None, ""))]
    return " ".join(p for p in parts if p).lower()


def _upsert(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    if not rows:
        return
    if is_postgresql(session):
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]
    stmt = insert(ContactSearch.__table__)  # type: ignore[attr-defined]
    session.execute(
        stmt.on_conflict_do_update(index_elements=["contact_id"], set_={"body": stmt.excluded.body}), list(rows)
    )


def index_contacts(session: Session, contact_ids: Sequence[int]) -> None:
    """(Re-)index these contacts now, in the caller's transaction."""
    for ids in chunks(list(contact_ids)):
        rows = session.execute(
            select(col(Contact.id), col(Contact.email_key), col(Contact.first_name), col(Contact.last_name),
                   col(Contact.attributes)).where(col(Contact.id).in_(ids))
        ).all()  # fmt: skip
        _upsert(session, [{"contact_id": r[0], "body": body_of(*r[1:])} for r in rows if not _erased(r[1])])


def _erased(email_key: str) -> bool:
    return email_key.startswith("erased:")


def forget(session: Session, contact_ids: Sequence[int]) -> None:
    """Drop these contacts from the index (changed by an import: index_missing picks them up again)."""
    for ids in chunks(list(contact_ids)):
        session.execute(delete(ContactSearch).where(col(ContactSearch.contact_id).in_(ids)))


def index_missing(engine: Engine, limit: int | None = None) -> int:
    """Index every contact that has no search row, CATCH_UP_ROWS at a time (a commit each, so the
    import or page waiting on SQLite's write lock waits for one chunk at most). Returns how many."""
    done, last = 0, 0
    while limit is None or done < limit:
        with session_scope(engine) as session:
            rows = session.execute(
                select(col(Contact.id), col(Contact.email_key), col(Contact.first_name), col(Contact.last_name),
                       col(Contact.attributes))
                .where(col(Contact.id) > last,
                       ~exists().where(col(ContactSearch.contact_id) == Contact.id))
                .order_by(col(Contact.id))
                .limit(CATCH_UP_ROWS)
            ).all()  # fmt: skip
            if not rows:
                return done
            _upsert(session, [{"contact_id": r[0], "body": body_of(*r[1:])} for r in rows if not _erased(r[1])])
            last = rows[-1][0]
        done += len(rows)
    return done


@dataclass(frozen=True)
class ContactFilter:
    q: str = ""
    list_id: int | None = None
    status: str = ""


_FTS = table("contact_search_fts", column("rowid"), column("contact_search_fts"))
_WORDS = re.compile(r"[^\w]+")


def _text_match(session: Session, query: Any, q: str) -> tuple[Any, Any]:
    """QUERY joined to the contacts whose text contains Q (three characters or more), and the id column
    to page on: the index's own, so the index is read in id order and the scan stops after one page."""
    if is_postgresql(session):
        pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.join(ContactSearch, col(ContactSearch.contact_id) == Contact.id).where(
            col(ContactSearch.body).like(pattern)
        )
        return query, col(ContactSearch.contact_id)
    # FTS5 matches a long phrase by walking the documents of every trigram in it, common ones too ("company
    # 12345" reads the million rows that contain "com"); its words as separate phrases, ANDed, let it skip
    # through the common lists by the rare ones, and the exact text is checked on the rows found
    words = [w for w in _WORDS.split(q) if len(w) >= 3]
    phrases = " AND ".join(_phrase(w) for w in words) if len(words) > 1 or (words and words[0] != q) else _phrase(q)
    query = query.join(_FTS, _FTS.c.rowid == Contact.id).where(_FTS.c.contact_search_fts.op("MATCH")(phrases))
    if phrases != _phrase(q):
        exact = select(col(ContactSearch.contact_id)).where(
            col(ContactSearch.contact_id) == Contact.id, col(ContactSearch.body).contains(q, autoescape=True)
        )
        query = query.where(exact.exists())
    return query, _FTS.c.rowid


def _phrase(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def ordered(session: Session, f: ContactFilter) -> Callable[[str | None], Any]:
    """The contacts matching the filter, newest first, as `order(cursor)` for a keyset page."""
    query = select(Contact)
    id_col: Any = col(Contact.id)
    q = f.q.strip().lower()[:SEARCH_MAX]
    if len(q) >= 3:
        query, id_col = _text_match(session, query, q)
    elif q:
        query = query.where(col(Contact.email_key).startswith(q, autoescape=True))
    if f.list_id is not None:
        query = query.where(
            exists().where(col(ListMember.list_id) == f.list_id, col(ListMember.contact_id) == Contact.id)
        )
    if f.status in STATUSES:
        # a scalar subquery, not NOT EXISTS: PostgreSQL estimates the anti-join of two unique million-row key
        # columns at one row and then reads every match before sorting (seconds); this way it walks the
        # index newest first and checks each contact's suppression until the page is full
        reason = (
            select(col(Suppression.reason))
            .where(col(Suppression.email_key) == Contact.email_key, every_list())
            .limit(1)
            .scalar_subquery()
        )
        if f.status == "active":
            query = query.where(reason.is_(None))
        elif f.status == "suppressed":
            query = query.where(reason.is_not(None))
        else:
            query = query.where(reason == f.status)
    return lambda cursor: after_id(query, id_col, cursor, descending=True)


def page(session: Session, f: ContactFilter, limit: int, cursor: str | None) -> tuple[list[Contact], str | None]:
    return fetch(session, ordered(session, f)(cursor), limit)


def statuses(session: Session, keys: Sequence[str]) -> dict[str, str]:
    """email_key -> suppression reason for the suppressed ones among these."""
    if not keys:
        return {}
    return dict(
        session.execute(
            select(col(Suppression.email_key), col(Suppression.reason)).where(
                col(Suppression.email_key).in_(keys), every_list()
            )
        ).all()
    )

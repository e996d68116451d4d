"""The contact store: batched upserts of contacts and list memberships, fast enough for a
million-row import (a handful of statements per batch, whatever the batch size).

A batch arrives already validated and free of duplicates within itself. An address that is already a
contact keeps its row: names given in the batch replace the stored ones, attributes are merged over the
stored ones (so a re-import that lacks a column does not wipe it). A list membership remembers the
most recent import that contained the address; that is how a later batch of the same import knows an
address it meets again is a duplicate inside the file, without holding every key in memory."""

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import ARRAY, Integer, String, any_, bindparam, func, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col

from app.audience.search import forget, index_contacts
from app.db import is_postgresql
from app.models import Contact, ListMember, Suppression
from app.models.types import UTCDateTime
from app.subscription import consent

_contact = Contact.__table__  # type: ignore[attr-defined]
_member = ListMember.__table__  # type: ignore[attr-defined]


@dataclass
class ContactRow:
    email: str
    key: str
    is_role: bool = False
    first_name: str | None = None
    last_name: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    line: int = 0  # where the file has it, for a reject found when the batch is stored


@dataclass
class BatchResult:
    added: int = 0
    updated: int = 0
    duplicates: int = 0
    suppressed: int = 0


def _dialect_insert(session: Session):
    return postgresql.insert if is_postgresql(session) else sqlite.insert


def suppressed_keys(session: Session, keys: Sequence[str]) -> set[str]:
    query = select(col(Suppression.email_key)).where(key_in(session, col(Suppression.email_key), keys))
    return set(session.execute(query).scalars())


def _merged(row: ContactRow, first: str | None, last: str | None, attrs: dict[str, Any]) -> dict[str, Any] | None:
    """The changed values for an existing contact, or None when the row changes nothing."""
    new_first = row.first_name or first
    new_last = row.last_name or last
    new_attrs = {**attrs, **row.attributes} if row.attributes else attrs
    if (new_first, new_last, new_attrs) == (first, last, attrs):
        return None
    return {"first_name": new_first, "last_name": new_last, "attributes": new_attrs}


def insert_contacts(session: Session, rows: Sequence[ContactRow], now: datetime) -> int:
    """New contacts straight through the driver: SQLAlchemy's per-row parameter processing would be
    most of a million-row import's time. PostgreSQL gets the whole batch as arrays in one statement.
    ON CONFLICT: another import may have added the same address since our SELECT."""
    columns = "email, email_key, is_role, first_name, last_name, attributes, created_at, updated_at"
    values = [
        [r.email for r in rows],
        [r.key for r in rows],
        [r.is_role for r in rows],
        [r.first_name for r in rows],
        [r.last_name for r in rows],
        [json.dumps(r.attributes) for r in rows],
    ]
    cursor = session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        if is_postgresql(session):
            cursor.execute(
                f"INSERT INTO contact ({columns}) SELECT e, k, r, f, l, a::json, %s, %s "
                # %b: binary arrays; the text format escapes element by element in Python (slow)
                "FROM unnest(%b::text[], %b::text[], %b::bool[], %b::text[], %b::text[], %b::text[]) "
                "AS t(e, k, r, f, l, a) ON CONFLICT (email_key) DO NOTHING",
                [now, now, *values],
            )
        else:
            stamp = now.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")  # as SQLAlchemy stores it
            cursor.executemany(
                f"INSERT INTO contact ({columns}) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (email_key) DO NOTHING",
                [(*row, stamp, stamp) for row in zip(*values, strict=True)],
            )
        return cursor.rowcount if cursor.rowcount >= 0 else len(rows)
    finally:
        cursor.close()


def key_in(session: Session, column: Any, keys: Sequence[str]) -> Any:
    """`column IN keys` with one parameter instead of thousands (whose binding alone would cost more
    than the query): `= ANY(array)` on PostgreSQL, a JSON array through json_each on SQLite."""
    if is_postgresql(session):
        return column == any_(literal(list(keys), ARRAY(String)))
    values = func.json_each(literal(json.dumps(list(keys)))).table_valued("value")
    return column.in_(select(values.c.value))


class _Known(NamedTuple):
    """What the store has for an address of the batch: its contact and its membership of the list
    (a tuple: a million-row import builds one per row)."""

    contact_id: int
    first_name: str | None
    last_name: str | None
    attributes: dict[str, Any] | None
    is_member: bool
    member_import: int | None


@dataclass
class _Plan:
    """What a batch changes, worked out in Python before the few statements that write it."""

    fresh: list[ContactRow] = field(default_factory=list)
    changes: list[dict[str, Any]] = field(default_factory=list)  # contacts whose names or attributes change
    re_member: list[dict[str, Any]] = field(default_factory=list)  # memberships now from this import
    counted: list[str] = field(default_factory=list)  # keys the import counts (not duplicates in it)


def upsert_batch(
    session: Session,
    rows: Sequence[ContactRow],
    list_id: int,
    source: str,
    import_id: int | None,
    now: datetime,
    joined: consent.Entry | None = None,
    actor: consent.Actor | None = None,
    index_now: bool = False,
) -> BatchResult:
    """Add or refresh the batch's contacts and put them in the list; JOINED (its contact id aside) is
    appended to the consent ledger for each contact the batch puts in the list. INDEX_NOW: make the
    batch searchable in this transaction (a small import); otherwise new and changed contacts are left
    to `search.index_missing`. The caller commits."""
    result = BatchResult()
    if not rows:
        return result
    known = _known(session, [r.key for r in rows], list_id)
    plan = _plan(rows, known, import_id, now, result)
    if plan.fresh:
        result.added = insert_contacts(session, plan.fresh, now)
    if plan.changes:
        session.execute(
            update(_contact)
            .where(_contact.c.id == bindparam("b_id"))
            .values(
                first_name=bindparam("first_name"),
                last_name=bindparam("last_name"),
                attributes=bindparam("attributes"),
                updated_at=bindparam("updated_at"),
            ),
            plan.changes,
        )
    if plan.re_member and import_id is not None:
        session.execute(
            update(_member)
            .where((_member.c.list_id == list_id) & (_member.c.contact_id == bindparam("b_contact")))
            .values(import_id=import_id),
            plan.re_member,
        )
    if plan.changes and not index_now:
        forget(session, [c["b_id"] for c in plan.changes])
    joining = [r.key for r in rows if r.key not in known or not known[r.key].is_member]
    new_members = _join_list(session, joining, list_id, source, import_id, now)
    if joined is not None and new_members:
        consent.append_many(session, new_members, joined, actor or consent.Actor(consent.ActorKind.IMPORT), now)
    if index_now:
        ids_now = select(_contact.c.id).where(key_in(session, _contact.c.email_key, [r.key for r in rows]))
        index_contacts(session, list(session.execute(ids_now).scalars()))
    if plan.counted:
        result.suppressed = len(suppressed_keys(session, plan.counted))
    return result


def _known(session: Session, keys: list[str], list_id: int) -> dict[str, _Known]:
    """The batch's addresses that are contacts already, with their membership of the list."""
    rows = session.execute(
        select(
            _contact.c.email_key,
            _contact.c.id,
            _contact.c.first_name,
            _contact.c.last_name,
            _contact.c.attributes,
            _member.c.list_id.is_not(None),
            _member.c.import_id,
        )
        .outerjoin(_member, (_member.c.contact_id == _contact.c.id) & (_member.c.list_id == list_id))
        .where(key_in(session, _contact.c.email_key, keys))
    )
    return {key: _Known._make(rest) for key, *rest in rows}


def _plan(
    rows: Sequence[ContactRow], known: dict[str, _Known], import_id: int | None, now: datetime, result: BatchResult
) -> _Plan:
    """Sort the batch into new contacts, changed ones and duplicates of this import; counts updates
    and duplicates in RESULT."""
    plan = _Plan(fresh=[r for r in rows if r.key not in known])
    for row in rows:
        k = known.get(row.key)
        if k is None:
            plan.counted.append(row.key)
            continue
        if k.is_member and import_id is not None and k.member_import == import_id:
            result.duplicates += 1  # an earlier batch of this same import already took it
            continue
        plan.counted.append(row.key)
        result.updated += 1
        change = _merged(row, k.first_name, k.last_name, k.attributes or {})
        if change is not None:
            plan.changes.append({"b_id": k.contact_id, **change, "updated_at": now})
        if k.is_member:
            plan.re_member.append({"b_contact": k.contact_id})
    return plan


def _join_list(
    session: Session, keys: list[str], list_id: int, source: str, import_id: int | None, now: datetime
) -> list[int]:
    """Put the contacts with these keys in the list, in one INSERT .. SELECT; members already stay.
    Returns the ids of the contacts it put in."""
    if not keys:
        return []
    members = select(
        literal(list_id), _contact.c.id, literal(source), literal(import_id, Integer), literal(now, UTCDateTime())
    ).where(key_in(session, _contact.c.email_key, keys))
    added = session.execute(
        _dialect_insert(session)(_member)
        .from_select(["list_id", "contact_id", "source", "import_id", "added_at"], members)
        .on_conflict_do_nothing(index_elements=["list_id", "contact_id"])
        .returning(_member.c.contact_id)
    )
    return list(added.scalars())


def add_members(session: Session, list_id: int, contact_ids: Sequence[int], source: str, now: datetime) -> None:
    """Put contacts in a list (one executemany); those already in it stay as they are."""
    if not contact_ids:
        return
    stmt = _dialect_insert(session)(_member).on_conflict_do_nothing(index_elements=["list_id", "contact_id"])
    session.execute(
        stmt, [{"list_id": list_id, "contact_id": c, "source": source, "added_at": now} for c in contact_ids]
    )

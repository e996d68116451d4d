"""The consent ledger: one appended row for every subscribe, confirm, unsubscribe (from one list or all),
import, CMS push, admin edit and erasure, with when, who (the actor), from where (IP, user agent) and
under which consent text.

Rows are only ever added: this module has no update or delete, and the database refuses both (triggers
made by migration 0008). No row holds an e-mail address, so the history of an erased contact remains
as proof without naming the person."""

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, insert, literal, select
from sqlmodel import Session, col

from app.db import COPY_FROM_ROWS, insert_rows, is_postgresql
from app.keyset import after_id
from app.models import ConsentEvent
from app.models.types import LINE_LENGTH, NAME_LENGTH


class Action:
    SUBSCRIBE = "subscribe"
    CONFIRM = "confirm"
    CANCEL = "cancel"  # an unconfirmed signup withdrawn by the person
    UNSUBSCRIBE = "unsubscribe"  # list_id set: from that list; none: from everything
    IMPORT = "import"
    CMS = "cms"
    EDIT = "edit"
    ERASE = "erase"


class ActorKind:
    FORM = "form"
    API_KEY = "api_key"
    USER = "user"
    MAILED_COMMAND = "mailed_command"
    ONE_CLICK = "one_click"
    UNSUBSCRIBE_PAGE = "unsubscribe_page"
    PREFERENCE_PAGE = "preference_page"
    IMPORT = "import"
    SYSTEM = "system"


@dataclass(frozen=True)
class Actor:
    """Who or what made a change, and from where when there is a where."""

    kind: str
    name: str = ""
    ip: str | None = None
    user_agent: str | None = None


@dataclass(frozen=True)
class Entry:
    """What to append for one contact."""

    contact_id: int
    action: str
    list_id: int | None = None
    source: str = ""
    consent_text_version: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


def _row(entry: Entry, actor: Actor, now: datetime) -> dict[str, Any]:
    return {
        "contact_id": entry.contact_id,
        "list_id": entry.list_id,
        "action": entry.action,
        "actor_kind": actor.kind,
        "actor": actor.name[:NAME_LENGTH],
        "source": entry.source[:LINE_LENGTH],
        "ip": actor.ip,
        "user_agent": (actor.user_agent or None) and actor.user_agent[:LINE_LENGTH],
        "consent_text_version": entry.consent_text_version,
        "detail": entry.detail,
        "at": now,
    }


def columns(entry: Entry, actor: Actor, now: datetime) -> dict[str, Any]:
    """A row's columns but its contact_id, for a bulk write that takes the contact ids from a query."""
    return {k: v for k, v in _row(entry, actor, now).items() if k != "contact_id"}


def append(session: Session, entries: Sequence[Entry], actor: Actor, now: datetime) -> None:
    """Append rows in the caller's transaction (the change they record commits with them)."""
    if entries:
        session.execute(insert(ConsentEvent), [_row(e, actor, now) for e in entries])


def append_one(session: Session, entry: Entry, actor: Actor, now: datetime) -> None:
    append(session, [entry], actor, now)


def append_for_query(session: Session, contact_ids: Select, entry: Entry, actor: Actor, now: datetime) -> None:
    """ENTRY (its contact_id aside) for every contact id that CONTACT_IDS (a one-column SELECT) yields, in
    one INSERT .. SELECT: an import's batch of ten thousand contacts costs one statement."""
    ids = contact_ids.subquery("ids")
    base = _row(entry, actor, now)
    columns = [c for c in base if c != "contact_id"]
    table = ConsentEvent.__table__  # type: ignore[attr-defined]
    rows = select(ids.c[0], *(literal(base[c], table.c[c].type) for c in columns))
    session.execute(insert(table).from_select(["contact_id", *columns], rows))


def append_many(session: Session, contact_ids: Sequence[int], entry: Entry, actor: Actor, now: datetime) -> None:
    """ENTRY (its contact_id aside) for each of these contacts, as a bulk write (COPY on PostgreSQL):
    an import's batch of ten thousand costs one round trip."""
    base = _row(entry, actor, now)
    # COPY (PostgreSQL, a few rows or more) reads a JSON column as text; elsewhere the column type serialises it
    if is_postgresql(session) and len(contact_ids) >= COPY_FROM_ROWS:
        base["detail"] = json.dumps(base["detail"])
    insert_rows(session, ConsentEvent, [{**base, "contact_id": c} for c in contact_ids])


def history(session: Session, contact_id: int) -> Sequence[ConsentEvent]:
    """A contact's ledger, oldest first."""
    return (
        session.execute(
            select(ConsentEvent).where(col(ConsentEvent.contact_id) == contact_id).order_by(col(ConsentEvent.id))
        )
        .scalars()
        .all()
    )


def newest_first(contact_id: int, cursor: str | None) -> Any:
    return after_id(
        select(ConsentEvent).where(col(ConsentEvent.contact_id) == contact_id),
        col(ConsentEvent.id),
        cursor,
        descending=True,
    )

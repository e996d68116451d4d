"""Keyset paging for every long list, the API's and the pages': a query ordered on indexed columns and
resumed after the last row sent (never OFFSET, no COUNT), and the opaque cursor that carries that row's key.

The cursor is base64url of the sort key of the last row sent (its id, or its (created_at, id) for
time-ordered lists). Unlike an offset it stays correct while rows are added."""

import base64
import binascii
import json
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session


class BadCursor(ValueError):
    """A cursor that is not one of ours (edited or from another list)."""

    def __init__(self) -> None:
        super().__init__("not a cursor from this list")


def encode_cursor(*key: Any) -> str:
    raw = json.dumps([k.isoformat() if isinstance(k, datetime) else k for k in key], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, kinds: tuple[type, ...]) -> tuple[Any, ...]:
    """The sort key in a cursor, checked against the expected types; BadCursor otherwise."""
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(values, list) or len(values) != len(kinds):
            raise ValueError
        out: list[Any] = []
        for value, kind in zip(values, kinds, strict=True):
            if kind is datetime:
                out.append(datetime.fromisoformat(value))
            elif (kind is int and isinstance(value, int) and not isinstance(value, bool)) or (
                kind is str and isinstance(value, str)
            ):
                out.append(value)
            else:
                raise ValueError
        return tuple(out)
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise BadCursor from None


def after_id(query: Any, id_col: Any, cursor: str | None, descending: bool = False) -> Any:
    """Rows after the cursor in id order."""
    query = query.order_by(id_col.desc() if descending else id_col)
    if cursor is None:
        return query
    (last,) = decode_cursor(cursor, (int,))
    return query.where(id_col < last if descending else id_col > last)


def after_time_id(query: Any, time_col: Any, id_col: Any, cursor: str | None) -> Any:
    """Rows after the cursor, newest first by (time, id)."""
    query = query.order_by(time_col.desc(), id_col.desc())
    if cursor is None:
        return query
    at, last = decode_cursor(cursor, (datetime, int))
    return query.where(or_(time_col < at, and_(time_col == at, id_col < last)))


def after_name_id(query: Any, name_col: Any, id_col: Any, cursor: str | None) -> Any:
    """Rows after the cursor in (name, id) order: lists shown alphabetically."""
    query = query.order_by(name_col, id_col)
    if cursor is None:
        return query
    name, last = decode_cursor(cursor, (str, int))
    return query.where(or_(name_col > name, and_(name_col == name, id_col > last)))


def page_of(rows: list[Any], limit: int, key: Any = lambda r: (r.id,)) -> tuple[list[Any], str | None]:
    """Split rows fetched with limit + 1 into the page and the next cursor."""
    if len(rows) > limit:
        rows = rows[:limit]
        return rows, encode_cursor(*key(rows[-1]))
    return rows, None


def fetch(
    session: Session, query: Any, limit: int, key: Any = lambda r: (r.id,), scalars: bool = True
) -> tuple[list[Any], str | None]:
    """One page of an ordered query (built with an `after_*` helper) and the cursor of the next page."""
    result = session.execute(query.limit(limit + 1))
    return page_of(list(result.scalars() if scalars else result.all()), limit, key)


def in_order_made(model: Any, cursor: str | None) -> Any:
    """A small table's rows in the order they were made (by id), after the cursor."""
    return after_id(select(model), model.id, cursor)


def page_in_order_made(model: Any, session: Session, limit: int, cursor: str | None) -> tuple[list[Any], str | None]:
    return fetch(session, in_order_made(model, cursor), limit)

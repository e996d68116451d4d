"""Cursor pagination for every list endpoint: `?limit=&cursor=` in, `{items, next_cursor}` out.

The cursor is opaque to clients: base64url of the sort key of the last row sent (its id, or its
(created_at, id) for time-ordered lists). Unlike an offset it stays correct while rows are added."""

import base64
import binascii
import json
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel, Field
from sqlalchemy import and_, or_

from app.api.errors import request_error

T = TypeVar("T")

LimitQuery = Annotated[int, Query(ge=1, le=1000, description="items per page")]
CursorQuery = Annotated[
    str | None, Query(max_length=200, description="`next_cursor` of the previous page; omit for the first page")
]


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null on the last page")


def encode_cursor(*key: Any) -> str:
    raw = json.dumps([k.isoformat() if isinstance(k, datetime) else k for k in key], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, kinds: tuple[type, ...]) -> tuple[Any, ...]:
    """The sort key in a cursor, checked against the expected types; a bad cursor is a 400 naming `cursor`."""
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(values, list) or len(values) != len(kinds):
            raise ValueError
        out = []
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
        raise request_error(400, ["query", "cursor"], "not a cursor from this list") from None


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

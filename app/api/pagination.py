"""Cursor pagination for every list endpoint: `?limit=&cursor=` in, `{items, next_cursor}` out.

The cursor is opaque to clients (app.keyset makes and reads it); a bad one is a 400 naming `cursor`."""

from typing import Annotated, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel, Field

T = TypeVar("T")

LimitQuery = Annotated[int, Query(ge=1, le=1000, description="items per page")]
CursorQuery = Annotated[
    str | None, Query(max_length=200, description="`next_cursor` of the previous page; omit for the first page")
]


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null on the last page")

"""Pages of a long list on the web pages, the way the API pages: a cursor (keyset on indexed columns,
never OFFSET, no COUNT) and links for the next and the first page that keep the page's filters."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from sqlalchemy.orm import Session

from app.keyset import BadCursor, fetch


@dataclass
class Pager:
    """The links under a paged list; None where there is nowhere to go."""

    next_url: str | None = None
    first_url: str | None = None  # set when this is not the first page


def page_url(request: Request, param: str, cursor: str | None, anchor: str = "", path: str | None = None) -> str:
    """This page's URL (or `path`) with every filter kept and `param` set to `cursor` (none: the first page)."""
    query = [(k, v) for k, v in request.query_params.multi_items() if k != param]
    if cursor is not None:
        query.append((param, cursor))
    return f"{path or request.url.path}{'?' + urlencode(query) if query else ''}{anchor}"


def _by_id(row: Any) -> tuple[Any, ...]:
    return (row.id,)


@dataclass(frozen=True)
class PagedList:
    """One keyset-paged list on a page, declared once beside its page: rows a page, the query parameter
    its cursor travels in (a page with two lists gives each its own), the anchor its links jump to, and
    the row's values its order is keyed on (`scalars`: rows are single objects, not tuples)."""

    rows: int
    param: str = "cursor"
    anchor: str = ""
    key: Callable[[Any], tuple[Any, ...]] = _by_id
    scalars: bool = True

    def fetch(
        self, session: Session, request: Request, order: Callable[[str | None], Any], path: str | None = None
    ) -> tuple[list[Any], Pager]:
        """One page of the query that `order(cursor)` builds (a feature package's query, ordered with an
        `app.keyset` helper), and its links (to `path`, by default this page). A cursor that is not one of
        ours (an edited URL) shows the first page rather than an error."""
        cursor = request.query_params.get(self.param) or None
        try:
            query = order(cursor)
        except BadCursor:
            cursor = None
            query = order(None)
        rows, next_cursor = fetch(session, query, self.rows, self.key, self.scalars)
        pager = Pager(
            next_url=page_url(request, self.param, next_cursor, self.anchor, path) if next_cursor else None,
            first_url=page_url(request, self.param, None, self.anchor, path) if cursor else None,
        )
        return rows, pager

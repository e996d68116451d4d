"""What a page answers after a change: a redirect (303, so a reload does not post again) to the page that
says what happened, once."""

from collections.abc import Callable
from typing import TypeVar

from fastapi import HTTPException, Request
from fastapi.responses import RedirectResponse
from sqlmodel import Session

T = TypeVar("T")


def found(session: Session, model: type[T], ident: int, noun: str) -> T:
    """The row a page's path names, or 404."""
    row = session.get(model, ident)
    if row is None:
        raise HTTPException(404, f"no {noun} with id {ident}")
    return row


def done(request: Request, url: str, notice: str) -> RedirectResponse:
    request.session["notice"] = notice
    return RedirectResponse(url, status_code=303)


def removed(
    request: Request, session: Session, remove: Callable[[Session, T], object], row: T, url: str, notice: str
) -> RedirectResponse:
    """The feature package's `remove` applied to the row and committed; then on to URL, saying NOTICE."""
    remove(session, row)
    session.commit()
    return done(request, url, notice)

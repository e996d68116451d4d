"""What the resource routers share beyond the contract's errors and pages: a DELETE's answer."""

from collections.abc import Callable
from typing import TypeVar

from fastapi import Response
from sqlmodel import Session

T = TypeVar("T")


def deleted(session: Session, remove: Callable[[Session, T], object], row: T) -> Response:
    """The feature package's `remove` applied to the row and committed; 204 No Content."""
    remove(session, row)
    session.commit()
    return Response(status_code=204)

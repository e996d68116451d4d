"""What the resource routers share beyond the contract's errors and pages: a row read by the id its path
names, its public shape, and a DELETE's answer."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from fastapi import Response
from pydantic import BaseModel
from sqlmodel import Session, SQLModel

from app.api.errors import get_or_404

T = TypeVar("T")
M = TypeVar("M", bound=SQLModel)
P = TypeVar("P", bound=BaseModel)


@dataclass(frozen=True)
class Resource(Generic[M, P]):
    """A table served under /api/v1: MODEL rows shown as PUBLIC, found by the path parameter PARAM
    (a 404 says "no NOUN with id …")."""

    model: type[M]
    public: type[P]
    param: str
    noun: str

    def get(self, session: Session, ident: int) -> M:
        return get_or_404(session, self.model, ident, self.param, self.noun)

    def shown(self, row: M) -> P:
        return self.public.model_validate(row, from_attributes=True)


def deleted(session: Session, remove: Callable[[Session, T], object], row: T) -> Response:
    """The feature package's `remove` applied to the row and committed; 204 No Content."""
    remove(session, row)
    session.commit()
    return Response(status_code=204)

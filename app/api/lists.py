"""/api/v1 routes for mailing lists: create, read, rename, delete, each with its member count."""

from fastapi import APIRouter, Response

from app.api.errors import get_or_404, request_error
from app.api.pagination import CursorQuery, LimitQuery, Page
from app.api.resources import deleted
from app.audience import queries
from app.audience.lists import delete_list as delete_with_members
from app.audience.schemas import ListCreate, ListPublic, ListUpdate
from app.deps import Id, SessionDep
from app.models import MailingList

router = APIRouter(tags=["audience"])


def _public(ml: MailingList, member_count: int) -> ListPublic:
    assert ml.id is not None  # a stored list
    return ListPublic(
        id=ml.id, name=ml.name, description=ml.description, created_at=ml.created_at, member_count=member_count
    )


def _list_public(session: SessionDep, ml: MailingList) -> ListPublic:
    assert ml.id is not None  # a stored list
    return _public(ml, queries.member_count(session, ml.id))


def _get_list(session: SessionDep, list_id: int) -> MailingList:
    return get_or_404(session, MailingList, list_id, "list_id", "list")


def _name_taken(session: SessionDep, name: str, except_id: int | None = None) -> None:
    existing = queries.list_named(session, name)
    if existing is not None and existing != except_id:
        raise request_error(409, ["body", "name"], f'a list named "{name}" already exists (id {existing})')


@router.get("/lists", response_model=Page[ListPublic])
def list_lists(session: SessionDep, limit: LimitQuery = 100, cursor: CursorQuery = None) -> Page[ListPublic]:
    """Lists in the order they were created."""
    items, next_cursor = queries.lists_page(session, limit, cursor)
    counts = queries.member_counts(session, [m.id for m in items if m.id is not None])
    return Page(
        items=[_public(m, counts.get(m.id, 0)) for m in items if m.id is not None],
        next_cursor=next_cursor,
    )


@router.post("/lists", response_model=ListPublic, status_code=201)
def create_list(body: ListCreate, session: SessionDep) -> ListPublic:
    _name_taken(session, body.name)
    ml = MailingList(name=body.name, description=body.description)
    session.add(ml)
    session.commit()
    return _list_public(session, ml)


@router.get("/lists/{list_id}", response_model=ListPublic)
def get_list(list_id: Id, session: SessionDep) -> ListPublic:
    return _list_public(session, _get_list(session, list_id))


@router.patch("/lists/{list_id}", response_model=ListPublic)
def update_list(list_id: Id, body: ListUpdate, session: SessionDep) -> ListPublic:
    ml = _get_list(session, list_id)
    if body.name is not None:
        _name_taken(session, body.name, except_id=list_id)
        ml.name = body.name
    if body.description is not None:
        ml.description = body.description
    session.add(ml)
    session.commit()
    return _list_public(session, ml)


@router.delete("/lists/{list_id}", status_code=204, description="Deletes the list and its memberships; contacts stay.")
def delete_list(list_id: Id, session: SessionDep) -> Response:
    return deleted(session, delete_with_members, _get_list(session, list_id))

"""/api/v1 routes for mailing lists: create, read, rename, delete, each with its member count."""

from fastapi import APIRouter, Response

from app.api.errors import get_or_404, request_error
from app.api.pagination import CursorQuery, LimitQuery, Page
from app.api.resources import deleted
from app.audience import lists, queries
from app.audience.schemas import ListCreate, ListPublic, ListUpdate
from app.deps import Id, SessionDep
from app.models import MailingList

router = APIRouter(tags=["audience"])


def _public(ml: MailingList, member_count: int) -> ListPublic:
    assert ml.id is not None  # a stored list
    return ListPublic.model_validate({**ml.model_dump(), "member_count": member_count})


def _list_public(session: SessionDep, ml: MailingList) -> ListPublic:
    assert ml.id is not None  # a stored list
    return _public(ml, queries.member_count(session, ml.id))


def _get_list(session: SessionDep, list_id: int) -> MailingList:
    return get_or_404(session, MailingList, list_id, "list_id", "list")


def _saved(
    session: SessionDep, ml: MailingList, name: str | None, description: str | None, archive: bool | None
) -> ListPublic:
    try:
        lists.save(session, ml, name, description, archive)
    except lists.ListNameTaken as exc:
        raise request_error(409, ["body", "name"], str(exc)) from None
    session.commit()
    return _list_public(session, ml)


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
    ml = MailingList(name=body.name, description=body.description)
    return _saved(session, ml, body.name, body.description, body.archive)


@router.get("/lists/{list_id}", response_model=ListPublic)
def get_list(list_id: Id, session: SessionDep) -> ListPublic:
    return _list_public(session, _get_list(session, list_id))


@router.patch("/lists/{list_id}", response_model=ListPublic)
def update_list(list_id: Id, body: ListUpdate, session: SessionDep) -> ListPublic:
    return _saved(session, _get_list(session, list_id), body.name, body.description, body.archive)


@router.delete("/lists/{list_id}", status_code=204, description="Deletes the list and its memberships; contacts stay.")
def delete_list(list_id: Id, session: SessionDep) -> Response:
    return deleted(session, lists.delete_list, _get_list(session, list_id))

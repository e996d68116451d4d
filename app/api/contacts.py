"""/api/v1 routes for contacts: find them, read, change, erase and export one, and the CMS push (upsert
website users as contacts, with a result per row)."""

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, Response
from sqlalchemy.exc import IntegrityError

from app.api.errors import get_or_404, request_error
from app.api.pagination import CursorQuery, LimitQuery, Page
from app.audience import contacts
from app.audience.cms import CmsUser, upsert_users
from app.audience.schemas import (
    ContactExport,
    ContactPublic,
    ContactResult,
    ContactStatus,
    ContactsUpsert,
    ContactsUpsertResult,
    ContactUpdate,
)
from app.audience.search import ContactFilter
from app.deps import MAX_ID, Id, SessionDep
from app.models import Contact, MailingList, utcnow
from app.subscription import consent, erasure

router = APIRouter(tags=["audience"])


@router.post(
    "/contacts/bulk",
    response_model=ContactsUpsertResult,
    description="Upsert up to 10,000 website users keyed by the CMS's user id, with a result per row. "
    "A user whose address changed is updated, not duplicated.",
)
def upsert_contacts(body: ContactsUpsert, request: Request, session: SessionDep) -> ContactsUpsertResult:
    if body.list_id is not None and session.get(MailingList, body.list_id) is None:
        raise request_error(422, ["body", "list_id"], f"no list with id {body.list_id}")
    users = [CmsUser(c.external_id, c.email, c.first_name, c.last_name, c.attributes) for c in body.contacts]
    try:
        results = upsert_users(session, users, body.list_id, utcnow(), api_actor(request))
        session.commit()
    except IntegrityError:
        session.rollback()
        raise request_error(409, ["body", "contacts"], "another request changed the same contacts; retry") from None
    by_status = {s: sum(1 for r in results if r.status == s) for s in ("added", "updated", "unchanged")}
    return ContactsUpsertResult(
        **by_status,
        rejected=len(results) - sum(by_status.values()),
        results=[ContactResult(**r.__dict__) for r in results],
    )


def api_actor(request: Request) -> consent.Actor:
    """The API key a request came with, as the consent ledger names it."""
    return consent.Actor(
        consent.ActorKind.API_KEY,
        getattr(request.state, "api_key_label", "API key"),
        ip=request.client.host if request.client else None,
        user_agent=request.headers.get("user-agent"),
    )


def _get_contact(session: SessionDep, contact_id: int) -> Contact:
    return get_or_404(session, Contact, contact_id, "contact_id", "contact")


@router.get(
    "/contacts",
    response_model=Page[ContactPublic],
    description="Contacts, newest first: `q` finds any part of the address, a name or an attribute value "
    "(three characters or more; shorter matches the start of the address), `list_id` and `status` narrow it.",
)
def list_contacts(
    session: SessionDep,
    q: Annotated[str, Query(max_length=200)] = "",
    list_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    status: ContactStatus | None = None,
    limit: LimitQuery = 100,
    cursor: CursorQuery = None,
) -> Page[ContactPublic]:
    items, next_cursor = contacts.contacts_page(session, ContactFilter(q, list_id, status or ""), limit, cursor)
    return Page(items=items, next_cursor=next_cursor)


@router.get("/contacts/{contact_id}", response_model=ContactPublic)
def get_contact(contact_id: Id, session: SessionDep) -> ContactPublic:
    return contacts.with_status(session, [_get_contact(session, contact_id)])[0]


@router.patch(
    "/contacts/{contact_id}",
    response_model=ContactPublic,
    description="Change names, the subscriber pages' language and attributes; custom fields are checked and converted (errors name the field). "
    "The change is recorded in the contact's consent history.",
)
def update_contact(contact_id: Id, body: ContactUpdate, request: Request, session: SessionDep) -> ContactPublic:
    contact = _get_contact(session, contact_id)
    try:
        contacts.update(session, contact, body.first_name, body.last_name, body.attributes, api_actor(request),
                        utcnow(), names_given=body.model_fields_set & {"first_name", "last_name"},
                        language=body.language)  # fmt: skip
    except contacts.ContactInvalid as exc:
        session.rollback()
        raise HTTPException(422, [{"loc": ["body", *f.split(".")], "msg": m, "type": "value_error"}
                                  for f, m in exc.problems]) from None  # fmt: skip
    except contacts.ContactErased as exc:
        raise request_error(409, ["path", "contact_id"], str(exc)) from None
    session.commit()
    return contacts.with_status(session, [contact])[0]


@router.delete(
    "/contacts/{contact_id}",
    status_code=204,
    description="Erase the person: their data goes everywhere (contact, ledger rows, bounces, suppressions), "
    "a salted hash of the address is kept as an `erased` suppression so no import brings them back, and the "
    "erasure is recorded in the consent history, which keeps no address.",
)
def erase_contact(contact_id: Id, request: Request, session: SessionDep) -> Response:
    try:
        erasure.erase(session, _get_contact(session, contact_id), api_actor(request), utcnow())
    except erasure.AlreadyErased as exc:
        raise request_error(409, ["path", "contact_id"], str(exc)) from None
    session.commit()
    return Response(status_code=204)


@router.get(
    "/contacts/{contact_id}/export",
    response_model=ContactExport,
    description="Everything held about the person, for an access request: the contact, its lists, its consent "
    "history, every delivery, bounce and suppression.",
)
def export_contact(contact_id: Id, session: SessionDep) -> ContactExport:
    return contacts.export(session, _get_contact(session, contact_id), utcnow())

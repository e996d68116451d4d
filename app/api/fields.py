"""/api/v1 routes for custom fields: define, list, change and remove the contact fields of this installation."""

from fastapi import APIRouter, Response

from app.api.errors import request_error
from app.api.pagination import CursorQuery, LimitQuery, Page
from app.api.resources import Resource, deleted
from app.audience import fields
from app.audience.schemas import CustomFieldCreate, CustomFieldPublic, CustomFieldUpdate
from app.deps import Id, SessionDep
from app.models import CustomField

router = APIRouter(tags=["audience"])


FIELDS = Resource(CustomField, CustomFieldPublic, "field_id", "custom field")


@router.get("/fields", response_model=Page[CustomFieldPublic])
def list_fields(session: SessionDep, limit: LimitQuery = 100, cursor: CursorQuery = None) -> Page[CustomFieldPublic]:
    """Custom fields by name."""
    items, next_cursor = fields.fields_page(session, limit, cursor)
    return Page(items=[FIELDS.shown(f) for f in items], next_cursor=next_cursor)


@router.post(
    "/fields",
    response_model=CustomFieldPublic,
    status_code=201,
    description="Define a contact field. Its `name` is how templates use it (`{{ company }}`) and the key of "
    "its value in a contact's `attributes`; values are checked against its `type` on import and API writes.",
)
def create_field(body: CustomFieldCreate, session: SessionDep) -> CustomFieldPublic:
    try:
        f = fields.define(
            session, body.name, body.label, body.type, body.choices, body.required, body.subscriber_editable
        )
    except fields.FieldProblem as exc:
        session.rollback()
        raise request_error(409 if "already exists" in exc.message else 422, ["body", exc.field], exc.message) from None
    session.commit()
    return FIELDS.shown(f)


@router.get("/fields/{field_id}", response_model=CustomFieldPublic)
def get_field(field_id: Id, session: SessionDep) -> CustomFieldPublic:
    return FIELDS.shown(FIELDS.get(session, field_id))


@router.patch("/fields/{field_id}", response_model=CustomFieldPublic, description="The name and type stay.")
def update_field(field_id: Id, body: CustomFieldUpdate, session: SessionDep) -> CustomFieldPublic:
    f = FIELDS.get(session, field_id)
    try:
        fields.change(session, f, body.label, body.choices, body.required, body.subscriber_editable)
    except fields.FieldProblem as exc:
        session.rollback()
        raise request_error(422, ["body", exc.field], exc.message) from None
    session.commit()
    return FIELDS.shown(f)


@router.delete("/fields/{field_id}", status_code=204, description="Contacts keep their values as plain attributes.")
def delete_field(field_id: Id, session: SessionDep) -> Response:
    return deleted(session, fields.remove, FIELDS.get(session, field_id))

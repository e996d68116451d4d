"""/api/v1 routes for suppressions: list and search, add, change, remove, export as CSV."""

from datetime import datetime

from fastapi import APIRouter, Response
from fastapi.responses import StreamingResponse

from app.addresses import InvalidAddress, email_key
from app.api.errors import request_error
from app.api.pagination import CursorQuery, LimitQuery, Page
from app.api.resources import Resource, deleted
from app.audience import queries, suppressions
from app.audience.export import csv_lines
from app.audience.schemas import (
    SuppressionCreate,
    SuppressionPublic,
    SuppressionReasonFilter,
    SuppressionUpdate,
)
from app.deps import EngineDep, Id, SessionDep
from app.models import Suppression, utcnow

router = APIRouter(tags=["audience"])


SUPPRESSIONS = Resource(Suppression, SuppressionPublic, "suppression_id", "suppression")


@router.get("/suppressions", response_model=Page[SuppressionPublic])
def list_suppressions(
    session: SessionDep,
    reason: SuppressionReasonFilter | None = None,
    email: str | None = None,
    limit: LimitQuery = 100,
    cursor: CursorQuery = None,
) -> Page[SuppressionPublic]:
    """Suppressions, newest first (all of them at once: suppressions.csv)."""
    query = queries.suppressions_filtered(reason, email_key(email) if email else None)
    items, next_cursor = queries.suppressions_page(session, query, limit, cursor)
    return Page(items=[SUPPRESSIONS.shown(s) for s in items], next_cursor=next_cursor)


@router.post("/suppressions", response_model=SuppressionPublic, status_code=201)
def create_suppression(body: SuppressionCreate, session: SessionDep) -> SuppressionPublic:
    try:
        s = suppressions.add(session, body.email, body.reason, body.source, body.note, utcnow())
        session.commit()
    except InvalidAddress as exc:
        raise request_error(422, ["body", "email"], str(exc)) from None
    except suppressions.AlreadySuppressed as exc:
        raise request_error(409, ["body", "email"], str(exc)) from None
    return SUPPRESSIONS.shown(s)


@router.get("/suppressions.csv", response_class=StreamingResponse)
def export_suppressions(
    engine: EngineDep, session: SessionDep, reason: SuppressionReasonFilter | None = None
) -> StreamingResponse:
    session.rollback()
    rows = (
        (x.email, x.reason, x.source, x.note, x.campaign_id, _iso(x.created_at))
        for x in queries.streamed(engine, queries.suppressions_filtered(reason), Suppression)
    )
    return StreamingResponse(
        csv_lines(["email", "reason", "source", "note", "campaign_id", "created_at"], rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="suppressions.csv"'},
    )


def _iso(value: datetime) -> str:
    return value.isoformat(timespec="seconds")


@router.get("/suppressions/{suppression_id}", response_model=SuppressionPublic)
def get_suppression(suppression_id: Id, session: SessionDep) -> SuppressionPublic:
    return SUPPRESSIONS.shown(SUPPRESSIONS.get(session, suppression_id))


@router.patch("/suppressions/{suppression_id}", response_model=SuppressionPublic)
def update_suppression(suppression_id: Id, body: SuppressionUpdate, session: SessionDep) -> SuppressionPublic:
    s = SUPPRESSIONS.get(session, suppression_id)
    suppressions.change(session, s, body.reason, body.note)
    session.commit()
    return SUPPRESSIONS.shown(s)


@router.delete("/suppressions/{suppression_id}", status_code=204, description="The address becomes mailable again.")
def delete_suppression(suppression_id: Id, session: SessionDep) -> Response:
    return deleted(session, suppressions.remove, SUPPRESSIONS.get(session, suppression_id))

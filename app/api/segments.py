"""/api/v1 routes for segments: saved conditions over contacts, and the preview of an expression."""

from typing import NoReturn

from fastapi import APIRouter, Response

from app.api.errors import request_error
from app.api.pagination import CursorQuery, LimitQuery, Page
from app.api.resources import Resource, deleted
from app.audience.segments import store
from app.audience.segments.schemas import (
    SegmentCreate,
    SegmentPreview,
    SegmentPreviewRequest,
    SegmentPublic,
    SegmentUpdate,
)
from app.deps import Id, SessionDep
from app.models import Segment, utcnow

router = APIRouter(tags=["segments"])

SEGMENTS = Resource(Segment, SegmentPublic, "segment_id", "segment")


def _refused(exc: store.SegmentProblem) -> NoReturn:
    """The problem under its body field; an expression's names the line and column."""
    status = 409 if "already exists" in exc.message else 422
    raise request_error(status, ["body", exc.field], exc.message) from None


@router.get("/segments", response_model=Page[SegmentPublic])
def list_segments(session: SessionDep, limit: LimitQuery = 100, cursor: CursorQuery = None) -> Page[SegmentPublic]:
    """Segments by name."""
    items, next_cursor = store.segments_page(session, limit, cursor)
    return Page(items=[SEGMENTS.shown(s) for s in items], next_cursor=next_cursor)


@router.post(
    "/segments",
    response_model=SegmentPublic,
    status_code=201,
    description="Save a named condition over contacts. The expression is checked (an error names the line and "
    "column) and kept in its canonical form; campaigns evaluate it at launch.",
)
def create_segment(body: SegmentCreate, session: SessionDep) -> SegmentPublic:
    try:
        segment = store.create(session, body.name, body.expression, body.description)
    except store.SegmentProblem as exc:
        session.rollback()
        _refused(exc)
    session.commit()
    return SEGMENTS.shown(segment)


@router.post(
    "/segments/preview",
    response_model=SegmentPreview,
    description="How many contacts an expression matches now, and the first few.",
)
def preview_segment(body: SegmentPreviewRequest, session: SessionDep) -> SegmentPreview:
    try:
        result = store.preview(session, body.expression, utcnow())
    except store.SegmentProblem as exc:
        _refused(exc)
    return SegmentPreview(expression=result.expression, count=result.count, sample=result.sample)


@router.get("/segments/{segment_id}", response_model=SegmentPublic)
def get_segment(segment_id: Id, session: SessionDep) -> SegmentPublic:
    return SEGMENTS.shown(SEGMENTS.get(session, segment_id))


@router.patch("/segments/{segment_id}", response_model=SegmentPublic)
def update_segment(segment_id: Id, body: SegmentUpdate, session: SessionDep) -> SegmentPublic:
    segment = SEGMENTS.get(session, segment_id)
    try:
        store.change(session, segment, body.name, body.expression, body.description)
    except store.SegmentProblem as exc:
        session.rollback()
        _refused(exc)
    session.commit()
    return SEGMENTS.shown(segment)


@router.delete(
    "/segments/{segment_id}", status_code=204, description="Campaigns already launched keep their frozen ledger."
)
def delete_segment(segment_id: Id, session: SessionDep) -> Response:
    return deleted(session, store.remove, SEGMENTS.get(session, segment_id))

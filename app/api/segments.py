"""/api/v1 routes for segments: saved conditions over contacts, and the preview of an expression."""

from fastapi import APIRouter, Response

from app.api.errors import refusals
from app.api.pagination import CursorQuery, LimitQuery, Page
from app.api.resources import Resource, deleted
from app.audience.segments import schemas, store
from app.deps import Id, SessionDep
from app.models import Segment, utcnow

router = APIRouter(tags=["segments"])

SEGMENTS = Resource(Segment, schemas.SegmentPublic, "segment_id", "segment")


@router.get("/segments", response_model=Page[schemas.SegmentPublic])
def list_segments(
    session: SessionDep, limit: LimitQuery = 100, cursor: CursorQuery = None
) -> Page[schemas.SegmentPublic]:
    """Segments by name."""
    items, next_cursor = store.segments_page(session, limit, cursor)
    return Page(items=[SEGMENTS.shown(s) for s in items], next_cursor=next_cursor)


@router.post(
    "/segments",
    response_model=schemas.SegmentPublic,
    status_code=201,
    description="Save a named condition over contacts. The expression is checked (an error names the line and "
    "column) and kept in its canonical form; campaigns evaluate it at launch.",
)
def create_segment(body: schemas.SegmentCreate, session: SessionDep) -> schemas.SegmentPublic:
    with refusals():  # an expression's problem names its line and column
        segment = store.create(session, body.name, body.expression, body.description)
    session.commit()
    return SEGMENTS.shown(segment)


@router.post(
    "/segments/preview",
    response_model=schemas.SegmentPreview,
    description="How many contacts an expression matches now, and the first few.",
)
def preview_segment(body: schemas.SegmentPreviewRequest, session: SessionDep) -> schemas.SegmentPreview:
    with refusals():
        result = store.preview(session, body.expression, utcnow())
    return schemas.SegmentPreview(expression=result.expression, count=result.count, sample=result.sample)


@router.get("/segments/{segment_id}", response_model=schemas.SegmentPublic)
def get_segment(segment_id: Id, session: SessionDep) -> schemas.SegmentPublic:
    return SEGMENTS.shown(SEGMENTS.get(session, segment_id))


@router.patch("/segments/{segment_id}", response_model=schemas.SegmentPublic)
def update_segment(segment_id: Id, body: schemas.SegmentUpdate, session: SessionDep) -> schemas.SegmentPublic:
    segment = SEGMENTS.get(session, segment_id)
    with refusals():
        store.change(session, segment, name=body.name, expression=body.expression, description=body.description)
    session.commit()
    return SEGMENTS.shown(segment)


@router.delete(
    "/segments/{segment_id}", status_code=204, description="Campaigns already launched keep their frozen ledger."
)
def delete_segment(segment_id: Id, session: SessionDep) -> Response:
    return deleted(session, store.remove, SEGMENTS.get(session, segment_id))

"""/api/v1 routes for the audience of a send: the compile counts, and why an address is in or out."""

from typing import Annotated

from fastapi import APIRouter, Query

from app.api.errors import request_error
from app.audience import queries
from app.audience.compile import UnknownList
from app.audience.schemas import AudienceCounts, AudienceRequest, VerdictPublic
from app.audience.segments.audience import Audience, compile_send
from app.audience.segments.explain import why_in
from app.audience.segments.store import SegmentProblem, UnknownSegment
from app.deps import SessionDep, SettingsDep
from app.models import utcnow

router = APIRouter(tags=["audience"])


@router.post(
    "/audience/preview",
    response_model=AudienceCounts,
    description="The compile counts for these lists and segments, less the excluded lists and segments.",
)
def audience_preview(body: AudienceRequest, session: SessionDep, settings: SettingsDep) -> AudienceCounts:
    audience = Audience(body.list_ids, body.segment_ids, body.exclude_list_ids, body.exclude_segment_ids)
    try:
        compiled = compile_send(session, audience, settings, utcnow())
    except UnknownList as exc:
        raise request_error(422, ["body", "list_ids"], str(exc)) from None
    except UnknownSegment as exc:
        raise request_error(422, ["body", "segment_ids"], str(exc)) from None
    except SegmentProblem as exc:  # a stored segment naming a list deleted since
        raise request_error(422, ["body", "segment_ids"], exc.message) from None
    return AudienceCounts(**compiled.counts)


@router.get("/audience/why", response_model=VerdictPublic, description="Why an address is in or out of a send.")
def audience_why(
    address: str,
    session: SessionDep,
    settings: SettingsDep,
    list_id: Annotated[list[int] | None, Query(description="the send's lists; all lists when nothing is named")] = None,
    segment_id: Annotated[list[int] | None, Query(description="the send's segments")] = None,
    exclude_list_id: Annotated[list[int] | None, Query(description="lists whose members it leaves out")] = None,
    exclude_segment_id: Annotated[list[int] | None, Query(description="segments it leaves out")] = None,
) -> VerdictPublic:
    ids = list_id or ([] if segment_id else queries.all_list_ids(session))
    audience = Audience(ids, segment_id or [], exclude_list_id or [], exclude_segment_id or [])
    try:
        return why_in(session, address, audience, settings, utcnow())
    except UnknownSegment as exc:
        raise request_error(422, ["query", "segment_id"], str(exc)) from None
    except (UnknownList, SegmentProblem) as exc:
        raise request_error(422, ["query", "exclude_list_id"], str(exc)) from None

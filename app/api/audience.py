"""/api/v1 routes for the audience of a send: the compile counts, and why an address is in or out."""

from typing import Annotated

from fastapi import APIRouter, Query

from app.api.errors import request_error
from app.audience import queries
from app.audience.compile import UnknownList, compile_audience
from app.audience.schemas import AudienceCounts, AudienceRequest, VerdictPublic
from app.audience.why import why
from app.deps import SessionDep, SettingsDep
from app.models import utcnow

router = APIRouter(tags=["audience"])


@router.post("/audience/preview", response_model=AudienceCounts, description="The compile counts for these lists.")
def audience_preview(body: AudienceRequest, session: SessionDep, settings: SettingsDep) -> AudienceCounts:
    try:
        compiled = compile_audience(session, body.list_ids, settings, utcnow())
    except UnknownList as exc:
        raise request_error(422, ["body", "list_ids"], str(exc)) from None
    return AudienceCounts(**compiled.counts)


@router.get("/audience/why", response_model=VerdictPublic, description="Why an address is in or out of a send.")
def audience_why(
    address: str,
    session: SessionDep,
    settings: SettingsDep,
    list_id: Annotated[list[int] | None, Query(description="the send's lists; all lists when omitted")] = None,
) -> VerdictPublic:
    ids = list_id or queries.all_list_ids(session)
    return why(session, address, ids, settings, utcnow())

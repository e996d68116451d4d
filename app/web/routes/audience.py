"""Audience preview: the compile counts per list, per segment and per exclusion reason, and "why is this
address in or out"."""

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from app.audience import queries
from app.audience.compile import UnknownList
from app.audience.segments import store as segment_store
from app.audience.segments.audience import Audience, compile_send
from app.audience.segments.explain import why_in
from app.deps import SessionDep, SettingsDep
from app.models import utcnow
from app.web.templating import render

router = APIRouter()


@router.get("/audience", response_class=HTMLResponse)
def audience_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    list_id: list[int] = Query(default=[]),
    segment_id: list[int] = Query(default=[]),
    exclude_list_id: list[int] = Query(default=[]),
    exclude_segment_id: list[int] = Query(default=[]),
    address: str = "",
) -> HTMLResponse:
    lists = queries.lists_by_name(session)
    segments = segment_store.all_segments(session)
    errors: dict[str, str] = {}
    counts = verdict = None
    audience = Audience(list_id, segment_id, exclude_list_id, exclude_segment_id)
    if not audience.empty:
        try:
            counts = compile_send(session, audience, settings, utcnow()).counts
        except UnknownList as exc:
            errors["list_id"] = str(exc)
        except segment_store.UnknownSegment as exc:
            errors["segment_id"] = str(exc)
        except segment_store.SegmentProblem as exc:
            errors["segment_id"] = exc.message
    if address.strip() and not errors:
        if audience.empty:
            audience = Audience([m.id for m in lists if m.id is not None], [], exclude_list_id, exclude_segment_id)
        verdict = why_in(session, address.strip(), audience, settings, utcnow())
    ctx = {
        "lists": lists,
        "segments": segments,
        "chosen": {"list_id": set(list_id), "segment_id": set(segment_id), "exclude_list_id": set(exclude_list_id),
                   "exclude_segment_id": set(exclude_segment_id)},
        "counts": counts,
        "address": address,
        "verdict": verdict,
        "errors": errors,
    }  # fmt: skip
    return render(request, "audience.html", ctx)

"""Audience preview: the compile counts per list and per exclusion reason, and "why is this address in or out"."""

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from app.audience import queries
from app.audience.compile import UnknownList, compile_audience
from app.audience.reasons import EXCLUSION_REASONS
from app.audience.why import why
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
    address: str = "",
) -> HTMLResponse:
    lists = queries.lists_by_name(session)
    errors: dict[str, str] = {}
    counts = verdict = None
    if list_id:
        try:
            counts = compile_audience(session, list_id, settings, utcnow()).counts
        except UnknownList as exc:
            errors["list_id"] = str(exc)
    if address.strip():
        ids = list_id or [m.id for m in lists if m.id is not None]
        verdict = why(session, address.strip(), ids, settings, utcnow())
    ctx = {
        "lists": lists,
        "chosen": set(list_id),
        "counts": counts,
        "reasons": EXCLUSION_REASONS,
        "address": address,
        "verdict": verdict,
        "errors": errors,
    }
    return render(request, "audience.html", ctx)

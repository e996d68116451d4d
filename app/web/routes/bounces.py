"""Bounces: filter by kind, reason, campaign and date; each with its diagnostic and attribution; a
chart of bounces by reason per day; the sweep log and "sweep now"."""

import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, get_args

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse

from app.bounces import queries
from app.bounces.schemas import BounceKind
from app.bounces.sweep import run_sweep
from app.deps import EngineDep, SessionDep, SettingsDep
from app.i18n import gettext as _
from app.models import utcnow
from app.web.paging import PagedList, Pager
from app.web.templating import render

router = APIRouter()

KINDS = get_args(BounceKind)
CHART_DAYS = 30
CHART_SECONDS = 60
BOUNCES = PagedList(50, anchor="#bounces", key=lambda r: (r[0].created_at, r[0].id), scalars=False)
CAMPAIGNS_OFFERED = 100
SWEEPS = PagedList(10, param="sweeps", anchor="#sweeps-h")
# a fixed colour per reason, so a reason keeps its colour from page to page
PALETTE = ("#2456c8", "#b42318", "#1f7a4a", "#a15c00", "#6941c6", "#0e7490", "#be185d", "#4d7c0f", "#64748b")


def _day(raw: str) -> datetime | None:
    try:
        return datetime.combine(date.fromisoformat(raw), datetime.min.time(), UTC) if raw else None
    except ValueError:
        return None


def _chart(session: SessionDep) -> dict[str, Any]:
    start = (utcnow() - timedelta(days=CHART_DAYS - 1)).date()
    per_day: dict[date, Counter[str]] = defaultdict(Counter)
    totals: Counter[str] = Counter()
    for at, reason, n in queries.bounces_per_day_and_reason(session, start):
        per_day[at][reason] += n
        totals[reason] += n
    reasons = [r for r, _n in totals.most_common()]
    colours = {r: PALETTE[i % len(PALETTE)] for i, r in enumerate(reasons)}
    days = [start + timedelta(days=i) for i in range(CHART_DAYS)]
    peak = max((sum(c.values()) for c in per_day.values()), default=0)
    return {"days": [(d, per_day.get(d, Counter())) for d in days], "colours": colours, "peak": peak}


def _cached_chart(request: Request, session: SessionDep) -> dict[str, Any]:
    """The chart counts a month of bounces (a million rows for a big sender): one count a minute per
    process is enough, so paging through the list does not count them again. A sweep from here resets it."""
    cached = getattr(request.app.state, "bounce_chart", None)
    if cached is None or time.monotonic() - cached[0] >= CHART_SECONDS:
        cached = (time.monotonic(), _chart(session))
        request.app.state.bounce_chart = cached
    chart: dict[str, Any] = cached[1]
    return chart


@dataclass(frozen=True)
class BounceFilters:
    """The filter form above the list, as typed (a query string); `_filtered` checks it."""

    kind: str = ""
    reason: str = ""
    campaign: str = ""
    since: str = ""
    until: str = ""

    @property
    def campaign_id(self) -> int | None:
        return int(self.campaign) if self.campaign.isdigit() else None


def _filtered(f: BounceFilters) -> tuple[Any, dict[str, str]]:
    """The form's filters read, and the query they make; the errors by field."""
    errors: dict[str, str] = {}
    if f.campaign and f.campaign_id is None:
        errors["campaign"] = _("choose a campaign")
    days: dict[str, datetime] = {}
    for name, raw in (("since", f.since), ("until", f.until)):
        if raw:
            day = _day(raw)
            if day is None:
                errors[name] = _("enter a date as YYYY-MM-DD")
            else:
                days[name] = day
    until_day = days.get("until")
    wanted = queries.BounceFilter(
        kind=f.kind or None,
        reason=f.reason.strip() if f.reason else None,
        campaign=f.campaign_id,
        since=days.get("since"),
        before=None if until_day is None else until_day + timedelta(days=1),
    )
    query = queries.bounces_filtered(wanted, with_delivery=True)
    return query, errors


@router.get("/bounces", response_class=HTMLResponse)
def bounces_page(request: Request, session: SessionDep, f: Annotated[BounceFilters, Depends()]) -> HTMLResponse:
    stmt, errors = _filtered(f)
    rows: list[Any] = []
    pager = Pager()
    if not errors:
        rows, pager = BOUNCES.fetch(session, request, lambda c: queries.bounces_newest_first(stmt, c))
    sweeps, sweep_pager = SWEEPS.fetch(session, request, queries.sweeps_newest_first)
    reasons = queries.reasons_seen(session)
    # the filter offers the recent campaigns and the chosen one (an older one by its link, ?campaign=ID)
    campaigns = queries.campaigns_offered(session, CAMPAIGNS_OFFERED, f.campaign_id)
    ctx = {
        "rows": rows,
        "pager": pager,
        "errors": errors,
        "kinds": KINDS,
        "reasons": reasons,
        "campaigns": campaigns,
        "sweeps": sweeps,
        "sweep_pager": sweep_pager,
        "f": f,
        "chart": _cached_chart(request, session),
    }
    return render(request, "bounces.html", ctx)


@router.post("/bounces/sweep")
async def sweep_now(
    request: Request, session: SessionDep, settings: SettingsDep, engine: EngineDep
) -> RedirectResponse:
    session.rollback()  # SQLite: the sweep needs the write lock
    sweep = await run_in_threadpool(run_sweep, settings, engine, "web")
    request.app.state.bounce_chart = None
    if sweep is None:
        request.session["notice"] = _("Another sweep is running; try again when it ends.")
    elif sweep.state == "failed":
        request.session["notice"] = _("The sweep failed: %(error)s", error=sweep.error)
    else:
        request.session["notice"] = _(
            "Sweep done: %(seen)s messages seen, %(recorded)s recorded, %(deleted)s deleted, %(kept)s kept.",
            seen=sweep.seen,
            recorded=sweep.recorded,
            deleted=sweep.deleted,
            kept=sweep.kept,
        )
    return RedirectResponse("/bounces", status_code=303)

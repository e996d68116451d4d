"""Bounces: filter by kind, reason, campaign and date; each with its diagnostic and attribution; a
chart of bounces by reason per day; the sweep log and "sweep now"."""

import time
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import func, select, text

from app.api.deps import EngineDep, SessionDep, SettingsDep
from app.api.pagination import after_id, after_time_id
from app.bounces.sweep import run_sweep
from app.models import Bounce, Campaign, Delivery, MailboxSweep, utcnow
from app.models.states import BounceKind
from app.web.paging import Pager, fetch_page
from app.web.templating import render

router = APIRouter()

KINDS = BounceKind.ALL
CHART_DAYS = 30
CHART_SECONDS = 60
PAGE_ROWS = 50
CAMPAIGNS_OFFERED = 100
SWEEP_ROWS = 10
# a fixed colour per reason, so a reason keeps its colour from page to page
PALETTE = ("#2456c8", "#b42318", "#1f7a4a", "#a15c00", "#6941c6", "#0e7490", "#be185d", "#4d7c0f", "#64748b")


def _day(raw: str) -> datetime | None:
    try:
        return datetime.combine(date.fromisoformat(raw), datetime.min.time(), UTC) if raw else None
    except ValueError:
        return None


def _day_of(column: Any, dialect: str) -> Any:
    """The UTC calendar day of a timestamp, computed by the database."""
    return func.date(column) if dialect == "sqlite" else func.date(func.timezone("UTC", column))


def _chart(session: SessionDep) -> dict:  # type: ignore[type-arg]
    start = (utcnow() - timedelta(days=CHART_DAYS - 1)).date()
    day = _day_of(Bounce.created_at, session.get_bind().dialect.name)
    # counted by the database over the created_at index: a busy month is a million rows, never fetched
    rows = session.execute(
        select(day, Bounce.reason, func.count())
        .where(Bounce.kind == BounceKind.BOUNCE, Bounce.created_at >= datetime.combine(start, datetime.min.time(), UTC))
        .group_by(day, Bounce.reason)
    ).all()
    per_day: dict[date, Counter[str]] = defaultdict(Counter)
    totals: Counter[str] = Counter()
    for at, reason, n in rows:
        per_day[at if isinstance(at, date) else date.fromisoformat(at)][reason] += n
        totals[reason] += n
    reasons = [r for r, _ in totals.most_common()]
    colours = {r: PALETTE[i % len(PALETTE)] for i, r in enumerate(reasons)}
    days = [start + timedelta(days=i) for i in range(CHART_DAYS)]
    peak = max((sum(c.values()) for c in per_day.values()), default=0)
    return {"days": [(d, per_day.get(d, Counter())) for d in days], "colours": colours, "peak": peak}


def _cached_chart(request: Request, session: SessionDep) -> dict:  # type: ignore[type-arg]
    """The chart counts a month of bounces (a million rows for a big sender): one count a minute per
    process is enough, so paging through the list does not count them again. A sweep from here resets it."""
    cached = getattr(request.app.state, "bounce_chart", None)
    if cached is None or time.monotonic() - cached[0] >= CHART_SECONDS:
        cached = (time.monotonic(), _chart(session))
        request.app.state.bounce_chart = cached
    return cached[1]  # type: ignore[no-any-return]


# the distinct reasons by skipping through the reason index (one seek per reason), not a scan of every bounce
_REASONS = text(
    "WITH RECURSIVE r(reason) AS (SELECT MIN(reason) FROM bounce UNION ALL "
    "SELECT (SELECT MIN(reason) FROM bounce WHERE reason > r.reason) FROM r WHERE r.reason IS NOT NULL) "
    "SELECT reason FROM r WHERE reason IS NOT NULL"
)


def _filtered(kind: str, reason: str, campaign: str, since: str, until: str) -> tuple[Any, dict[str, str]]:
    errors: dict[str, str] = {}
    stmt = select(Bounce, Delivery).outerjoin(Delivery, Delivery.id == Bounce.delivery_id)
    if kind:
        stmt = stmt.where(Bounce.kind == kind)
    if reason:
        stmt = stmt.where(Bounce.reason == reason.strip())
    if campaign:
        if campaign.isdigit():
            stmt = stmt.where(Bounce.campaign_id == int(campaign))
        else:
            errors["campaign"] = "choose a campaign"
    for name, raw, op in (("since", since, "ge"), ("until", until, "lt")):
        if raw:
            day = _day(raw)
            if day is None:
                errors[name] = "enter a date as YYYY-MM-DD"
            elif op == "ge":
                stmt = stmt.where(Bounce.created_at >= day)
            else:
                stmt = stmt.where(Bounce.created_at < day + timedelta(days=1))
    return stmt, errors


@router.get("/bounces", response_class=HTMLResponse)
def bounces_page(
    request: Request, session: SessionDep,
    kind: str = "", reason: str = "", campaign: str = "", since: str = "", until: str = "",
) -> HTMLResponse:  # fmt: skip
    stmt, errors = _filtered(kind, reason, campaign, since, until)
    rows, pager = [], Pager()
    if not errors:
        rows, pager = fetch_page(session, request, lambda c: after_time_id(stmt, Bounce.created_at, Bounce.id, c),
                                 PAGE_ROWS, key=lambda r: (r[0].created_at, r[0].id), scalars=False,
                                 anchor="#bounces")  # fmt: skip
    sweeps, sweep_pager = fetch_page(session, request, lambda c: after_id(select(MailboxSweep), MailboxSweep.id, c,
                                                                         descending=True),
                                     SWEEP_ROWS, param="sweeps", anchor="#sweeps-h")  # fmt: skip
    reasons = list(session.execute(_REASONS).scalars())
    # the filter offers the recent campaigns and the chosen one (an older one by its link, ?campaign=ID)
    campaigns = session.execute(
        select(Campaign.id, Campaign.name).order_by(Campaign.id.desc()).limit(CAMPAIGNS_OFFERED)
    ).all()
    if campaign.isdigit() and all(c.id != int(campaign) for c in campaigns):
        campaigns += session.execute(select(Campaign.id, Campaign.name).where(Campaign.id == int(campaign))).all()
    return render(request, "bounces.html", {
        "rows": rows, "pager": pager, "errors": errors, "kinds": KINDS, "reasons": reasons, "campaigns": campaigns,
        "sweeps": sweeps, "sweep_pager": sweep_pager,
        "f": {"kind": kind, "reason": reason, "campaign": campaign, "since": since, "until": until},
        "chart": _cached_chart(request, session),
    })  # fmt: skip


@router.post("/bounces/sweep")
async def sweep_now(
    request: Request, session: SessionDep, settings: SettingsDep, engine: EngineDep
) -> RedirectResponse:
    session.rollback()  # SQLite: the sweep needs the write lock
    sweep = await run_in_threadpool(run_sweep, settings, engine, "web")
    request.app.state.bounce_chart = None
    if sweep is None:
        request.session["notice"] = "Another sweep is running; try again when it ends."
    elif sweep.state == "failed":
        request.session["notice"] = f"The sweep failed: {sweep.error}"
    else:
        request.session["notice"] = (f"Sweep done: {sweep.seen} messages seen, {sweep.recorded} recorded, "
                                     f"{sweep.deleted} deleted, {sweep.kept} kept.")  # fmt: skip
    return RedirectResponse("/bounces", status_code=303)

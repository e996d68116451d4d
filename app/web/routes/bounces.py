"""Bounces: filter by kind, reason, campaign and date; each with its diagnostic and attribution; a
chart of bounces by reason per day; the sweep log and "sweep now"."""

from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import select

from app.api.deps import EngineDep, SessionDep, SettingsDep
from app.bounces.sweep import run_sweep
from app.models import Bounce, Campaign, Delivery, MailboxSweep, utcnow
from app.web.templating import render

router = APIRouter()

KINDS = ("bounce", "delayed", "complaint", "autoreply", "unsubscribe", "delivery")
CHART_DAYS = 30
SHOWN = 100
# a fixed colour per reason, so a reason keeps its colour from page to page
PALETTE = ("#2456c8", "#b42318", "#1f7a4a", "#a15c00", "#6941c6", "#0e7490", "#be185d", "#4d7c0f", "#64748b")


def _day(raw: str) -> datetime | None:
    try:
        return datetime.combine(date.fromisoformat(raw), datetime.min.time(), UTC) if raw else None
    except ValueError:
        return None


def _chart(session: SessionDep) -> dict:  # type: ignore[type-arg]
    start = (utcnow() - timedelta(days=CHART_DAYS - 1)).date()
    rows = session.execute(
        select(Bounce.created_at, Bounce.reason).where(
            Bounce.kind == "bounce", Bounce.created_at >= datetime.combine(start, datetime.min.time(), UTC)
        )
    ).all()
    per_day: dict[date, Counter[str]] = defaultdict(Counter)
    for at, reason in rows:
        per_day[at.astimezone(UTC).date()][reason] += 1
    reasons = [r for r, _ in Counter(r for _, r in rows).most_common()]
    colours = {r: PALETTE[i % len(PALETTE)] for i, r in enumerate(reasons)}
    days = [start + timedelta(days=i) for i in range(CHART_DAYS)]
    peak = max((sum(c.values()) for c in per_day.values()), default=0)
    return {"days": [(d, per_day.get(d, Counter())) for d in days], "colours": colours, "peak": peak}


@router.get("/bounces", response_class=HTMLResponse)
def bounces_page(
    request: Request, session: SessionDep,
    kind: str = "", reason: str = "", campaign: str = "", since: str = "", until: str = "",
) -> HTMLResponse:  # fmt: skip
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
    rows = (
        [] if errors else session.execute(stmt.order_by(Bounce.created_at.desc(), Bounce.id.desc()).limit(SHOWN)).all()
    )
    reasons = sorted(set(session.execute(select(Bounce.reason).distinct()).scalars()))
    campaigns = session.execute(select(Campaign.id, Campaign.name).order_by(Campaign.id.desc())).all()
    sweeps = session.execute(select(MailboxSweep).order_by(MailboxSweep.id.desc()).limit(5)).scalars().all()
    return render(request, "bounces.html", {
        "rows": rows, "errors": errors, "kinds": KINDS, "reasons": reasons, "campaigns": campaigns, "sweeps": sweeps,
        "f": {"kind": kind, "reason": reason, "campaign": campaign, "since": since, "until": until},
        "chart": _chart(session), "shown": SHOWN,
    })  # fmt: skip


@router.post("/bounces/sweep")
async def sweep_now(
    request: Request, session: SessionDep, settings: SettingsDep, engine: EngineDep
) -> RedirectResponse:
    session.rollback()  # SQLite: the sweep needs the write lock
    sweep = await run_in_threadpool(run_sweep, settings, engine, "web")
    if sweep is None:
        request.session["notice"] = "Another sweep is running; try again when it ends."
    elif sweep.state == "failed":
        request.session["notice"] = f"The sweep failed: {sweep.error}"
    else:
        request.session["notice"] = (f"Sweep done: {sweep.seen} messages seen, {sweep.recorded} recorded, "
                                     f"{sweep.deleted} deleted, {sweep.kept} kept.")  # fmt: skip
    return RedirectResponse("/bounces", status_code=303)

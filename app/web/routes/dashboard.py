"""The dashboard: recent campaigns with progress, campaigns paused by an error, bounce rate, last sweep."""

from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import func, select

from app.api.deps import SessionDep
from app.models import Bounce, Campaign, Delivery, MailboxSweep, utcnow
from app.models.states import BounceKind, CampaignState
from app.web.progress import campaign_progress
from app.web.templating import render

router = APIRouter()

RATE_DAYS = 30
PAUSED_SHOWN = 5  # the rest are one click away, on /campaigns?state=paused
USER_PAUSE = "paused by user"  # app.sending.campaigns.pause


@router.get("/", response_class=HTMLResponse)
def dashboard(request: Request, session: SessionDep) -> HTMLResponse:
    recent = session.execute(select(Campaign).order_by(Campaign.id.desc()).limit(8)).scalars().all()
    paused = (
        session.execute(
            select(Campaign)
            .where(Campaign.state == CampaignState.PAUSED, Campaign.paused_reason != USER_PAUSE)
            .order_by(Campaign.id.desc())
            .limit(PAUSED_SHOWN + 1)
        )
        .scalars()
        .all()
    )
    since = utcnow() - timedelta(days=RATE_DAYS)
    sent = session.execute(select(func.count()).where(Delivery.sent_at >= since)).scalar_one()
    bounced = session.execute(
        select(func.count()).where(Bounce.kind == BounceKind.BOUNCE, Bounce.created_at >= since)
    ).scalar_one()
    last_sweep = session.execute(select(MailboxSweep).order_by(MailboxSweep.id.desc()).limit(1)).scalars().first()
    return render(request, "dashboard.html", {
        "campaigns": [(c, campaign_progress(session, c)) for c in recent],
        "paused": paused[:PAUSED_SHOWN],
        "more_paused": len(paused) > PAUSED_SHOWN,
        "sent": sent,
        "bounced": bounced,
        "bounce_rate": round(100.0 * bounced / sent, 2) if sent else None,
        "rate_days": RATE_DAYS,
        "sweep": last_sweep,
    })  # fmt: skip

"""The dashboard: recent campaigns with progress, campaigns paused by an error, bounce rate, the complaint and
hard-bounce rates against the guard's thresholds, last sweep."""

from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from app.bounces import queries as bounce_queries
from app.deps import SessionDep, SettingsDep
from app.models import utcnow
from app.sending import guards
from app.sending import queries as sending_queries
from app.web.progress import campaign_progress
from app.web.templating import render

router = APIRouter()

RATE_DAYS = 30
RECENT_SHOWN = 8
PAUSED_SHOWN = 5  # the rest are one click away, on /campaigns?state=paused


@router.get("/", response_class=HTMLResponse)
def dashboard(request: Request, session: SessionDep, settings: SettingsDep) -> HTMLResponse:
    recent = sending_queries.recent_campaigns(session, RECENT_SHOWN)
    paused = sending_queries.paused_by_error(session, PAUSED_SHOWN + 1)
    since = utcnow() - timedelta(days=RATE_DAYS)
    sent = sending_queries.sent_since(session, since)
    bounced = bounce_queries.bounced_since(session, since)
    last_sweep = bounce_queries.last_sweep(session)
    ctx = {
        "campaigns": [(c, campaign_progress(session, c)) for c in recent],
        "paused": paused[:PAUSED_SHOWN],
        "more_paused": len(paused) > PAUSED_SHOWN,
        "sent": sent,
        "bounced": bounced,
        "bounce_rate": round(100.0 * bounced / sent, 2) if sent else None,
        "rate_days": RATE_DAYS,
        "sweep": last_sweep,
        "guard": guards.shown_rates(session, settings, None),
    }
    return render(request, "dashboard.html", ctx)

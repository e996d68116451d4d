"""A campaign's progress as the pages show it, from the ledger's own counts."""

import time
from dataclasses import dataclass

from sqlmodel import Session

from app.models import Campaign, utcnow
from app.models.states import CampaignState
from app.sending import ledger
from app.sending.campaigns import percent_done


@dataclass(frozen=True)
class CampaignProgress:
    counts: dict[str, int]
    total: int
    done: int
    remaining: int
    percent: float
    rate_per_second: float
    eta_seconds: float | None
    final: bool


# the counts of a campaign's last full view, per process: a search in its ledger and the search's next pages
# show them again for a while instead of counting every ledger row once more (seconds at ten million rows)
RECENT_SECONDS = 60.0
_counted: dict[tuple[str, int, str], tuple[float, CampaignProgress]] = {}


def campaign_progress(session: Session, campaign: Campaign, recent_ok: bool = False) -> CampaignProgress:
    """The campaign's progress, counted now; with `recent_ok`, the counts of its last view in this process
    if they are less than RECENT_SECONDS old and the campaign's state has not changed since."""
    key = (str(session.get_bind().engine.url), campaign.id or 0, campaign.state)
    hit = _counted.get(key)
    if recent_ok and hit is not None and time.monotonic() - hit[0] < RECENT_SECONDS:
        return hit[1]
    counted = _count(session, campaign)
    _counted[key] = (time.monotonic(), counted)
    return counted


def _count(session: Session, campaign: Campaign) -> CampaignProgress:
    p = ledger.progress(session, campaign, utcnow())
    percent = percent_done(p.done, p.total, campaign.state)
    remaining = sum(p.counts.get(s, 0) for s in ledger.DUE_STATES)
    # nothing moves until the user acts
    final = campaign.state in (CampaignState.DRAFT, CampaignState.COMPLETED, CampaignState.CANCELLED)
    return CampaignProgress(p.counts, p.total, p.done, remaining, percent, p.rate_per_second, p.eta_seconds, final)

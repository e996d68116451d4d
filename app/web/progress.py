"""A campaign's progress as the pages show it, from the ledger's own counts."""

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


def campaign_progress(session: Session, campaign: Campaign) -> CampaignProgress:
    p = ledger.progress(session, campaign, utcnow())
    percent = percent_done(p.done, p.total, campaign.state)
    remaining = sum(p.counts.get(s, 0) for s in ledger.DUE_STATES)
    # nothing moves until the user acts
    final = campaign.state in (CampaignState.DRAFT, CampaignState.COMPLETED, CampaignState.CANCELLED)
    return CampaignProgress(p.counts, p.total, p.done, remaining, percent, p.rate_per_second, p.eta_seconds, final)

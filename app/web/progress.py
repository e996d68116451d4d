"""A campaign's progress as the pages show it, from the ledger's own counts."""

from dataclasses import dataclass

from sqlmodel import Session

from app.models import Campaign, utcnow
from app.models.states import CampaignState
from app.sending import ledger


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
    percent = (
        round(100.0 * p.done / p.total, 1) if p.total else (100.0 if campaign.state == CampaignState.COMPLETED else 0.0)
    )
    remaining = sum(p.counts.get(s, 0) for s in ledger.DUE_STATES)
    # nothing moves until the user acts
    final = campaign.state in (CampaignState.DRAFT, CampaignState.COMPLETED, CampaignState.CANCELLED)
    return CampaignProgress(p.counts, p.total, p.done, remaining, percent, p.rate_per_second, p.eta_seconds, final)

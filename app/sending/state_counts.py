"""Each campaign's ledger rows per state, read from `campaign_state_count` (kept by triggers on the ledger,
migration 0024) instead of counting the ledger: the report's states and the guard's messages out."""

from collections.abc import Iterable

from sqlalchemy import func, select, text
from sqlmodel import Session, col

from app.models import CampaignStateCount
from app.models.states import DeliveryState


def per_state(session: Session, campaign_ids: Iterable[int]) -> dict[int, dict[str, int]]:
    """Campaign id -> state -> rows (every state, 0 when none)."""
    ids = sorted(set(campaign_ids))
    out = {i: dict.fromkeys(DeliveryState.ALL, 0) for i in ids}
    if not ids:
        return out
    t = CampaignStateCount
    rows = session.execute(
        select(col(t.campaign_id), col(t.state), func.sum(col(t.n)))
        .where(col(t.campaign_id).in_(ids))
        .group_by(col(t.campaign_id), col(t.state))
    ).all()
    for campaign_id, state, n in rows:
        out[campaign_id][state] = out[campaign_id].get(state, 0) + int(n)
    return out


def fold(session: Session) -> int:
    """PostgreSQL: add each transaction's rows into part 0 (rows of transactions still open are not seen and
    stay for the next time). The number of campaigns folded; commits after each."""
    t = CampaignStateCount
    crowded = session.execute(select(col(t.campaign_id)).where(col(t.part) != 0).distinct()).scalars()
    done = 0
    for campaign_id in sorted(crowded):
        session.execute(
            text(
                "WITH gone AS (DELETE FROM campaign_state_count WHERE campaign_id = :c AND part <> 0 "
                "RETURNING state, n) "
                "INSERT INTO campaign_state_count AS s (campaign_id, state, part, n) "
                "SELECT :c, state, 0, sum(n) FROM gone GROUP BY state "
                "ON CONFLICT (campaign_id, state, part) DO UPDATE SET n = s.n + excluded.n"
            ),
            {"c": campaign_id},
        )
        session.commit()
        done += 1
    return done

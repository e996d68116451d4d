"""Each campaign's ledger rows per state, and per receiving domain and state, read from
`campaign_state_count` and `campaign_domain_state_count` (kept by triggers on the ledger, migrations 0027 and
0028) instead of counting the ledger: the report's states and domains, the guard's messages out."""

from collections.abc import Iterable

from sqlalchemy import func, select, text
from sqlmodel import Session, col

from app.models import CampaignDomainStateCount, CampaignStateCount
from app.models.states import DeliveryState

# the counted tables and the columns a count is kept per (besides the campaign)
_KEPT = {"campaign_state_count": "state", "campaign_domain_state_count": "domain, state"}


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


def per_domain(session: Session, campaign_id: int) -> dict[str, dict[str, int]]:
    """Receiving domain -> state -> the campaign's rows (the domains and states it has rows in)."""
    t = CampaignDomainStateCount
    rows = session.execute(
        select(col(t.domain), col(t.state), func.sum(col(t.n)))
        .where(col(t.campaign_id) == campaign_id)
        .group_by(col(t.domain), col(t.state))
        .having(func.sum(col(t.n)) != 0)
    ).all()
    out: dict[str, dict[str, int]] = {}
    for domain, state, n in rows:
        out.setdefault(domain, {})[state] = int(n)
    return out


def fold(session: Session) -> int:
    """PostgreSQL: add each transaction's rows into part 0 (rows of transactions still open are not seen and
    stay for the next time). The number of campaigns folded per table; commits after each."""
    done = 0
    for table, keys in _KEPT.items():
        crowded = session.execute(text(f"SELECT DISTINCT campaign_id FROM {table} WHERE part <> 0")).scalars()
        for campaign_id in sorted(crowded):
            session.execute(
                text(
                    f"WITH gone AS (DELETE FROM {table} WHERE campaign_id = :c AND part <> 0 "
                    f"RETURNING {keys}, n) "
                    f"INSERT INTO {table} AS s (campaign_id, {keys}, part, n) "
                    f"SELECT :c, {keys}, 0, sum(n) FROM gone GROUP BY {keys} "
                    f"ON CONFLICT (campaign_id, {keys}, part) DO UPDATE SET n = s.n + excluded.n"
                ),
                {"c": campaign_id},
            )
            session.commit()
            done += 1
    return done

"""The ledger's per-state and per-domain counts the report reads are kept by the database as rows are written:
after a launch, sends in a batch, retries, a bounce, a cancel, an erased address and a deletion they equal a
count of the ledger itself, on both databases (and on PostgreSQL still after its appended differences are
folded)."""

from sqlalchemy import delete, func, select, update
from sqlmodel import Session, col

from app.db import insert_rows, is_postgresql, update_rows
from app.models import CampaignDomainStateCount, CampaignStateCount, Delivery, utcnow
from app.models.states import DeliveryState
from app.sending import campaigns as service
from app.sending.state_counts import fold, per_domain, per_state
from tests.tracking.support import launched


def _counted(session: Session, cid: int) -> dict[str, int]:
    out = dict.fromkeys(DeliveryState.ALL, 0)
    rows = session.execute(
        select(col(Delivery.state), func.count()).where(col(Delivery.campaign_id) == cid).group_by(col(Delivery.state))
    ).all()
    return out | {s: int(n) for s, n in rows}


def _counted_per_domain(session: Session, cid: int) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for key, state in session.execute(
        select(col(Delivery.email_key), col(Delivery.state)).where(col(Delivery.campaign_id) == cid)
    ).all():
        states = out.setdefault(key.partition("@")[2], {})
        states[state] = states.get(state, 0) + 1
    return out


def _agree(session: Session, *campaign_ids: int) -> None:
    for c in campaign_ids:
        assert per_state(session, [c])[c] == _counted(session, c), c
        assert per_domain(session, c) == _counted_per_domain(session, c), c


def test_state_counts_follow_every_write_of_the_ledger(settings, engine, session):  # type: ignore[no-untyped-def]
    campaign = launched(session, settings)
    cid = campaign.id
    _agree(session, cid)
    assert _counted(session, cid)["queued"] == 3
    other = 10_000 + cid  # a second campaign's large ledger, written as the worker writes it
    now = utcnow()
    insert_rows(session, Delivery, [{"campaign_id": other, "email": f"p{i}@d{i % 3}.test", "email_key": f"p{i}@d{i % 3}.test",
                                     "state": "queued", "attempts": 0} for i in range(40)])  # fmt: skip
    _agree(session, other)
    assert set(per_domain(session, other)) == {"d0.test", "d1.test", "d2.test"}
    ids = list(session.execute(select(col(Delivery.id)).where(col(Delivery.campaign_id) == other)).scalars())
    update_rows(session, Delivery, [{"id": i, "state": "sent" if i % 3 else "deferred", "sent_at": now} for i in ids])
    update_rows(session, Delivery, [{"id": ids[0], "state": "failed", "sent_at": None}])  # one row alone
    session.execute(update(Delivery).where(col(Delivery.id) == ids[1]).values(state="bounced"))
    session.execute(update(Delivery).where(col(Delivery.id) == ids[2]).values(attempts=2))  # no state changed
    update_rows(session, Delivery, [{"id": i, "state": "queued", "attempts": 2} for i in ids[4:8]])  # retried
    session.execute(update(Delivery).where(col(Delivery.id) == ids[8]).values(email="", email_key="erased:x"))
    session.execute(delete(Delivery).where(col(Delivery.id) == ids[3]))
    session.commit()
    service.cancel(session, campaign, now)
    session.commit()
    _agree(session, cid, other)
    assert _counted(session, cid)["cancelled"] == 3 and "" in per_domain(session, other)  # the erased address
    if is_postgresql(session):
        assert fold(session) >= 1
        _agree(session, cid, other)
        for table in (CampaignStateCount, CampaignDomainStateCount):
            assert set(session.execute(select(col(table.part)).distinct()).scalars()) == {0}

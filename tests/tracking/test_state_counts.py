"""The ledger's per-state counts the report reads are kept by the database as rows are written: after a
launch, sends in a batch, a bounce, a cancel and a deletion they equal a count of the ledger itself, on
both databases (and on PostgreSQL still after its appended differences are folded)."""

from sqlalchemy import delete, func, select, update
from sqlmodel import Session, col

from app.db import insert_rows, is_postgresql, update_rows
from app.models import CampaignStateCount, Delivery, utcnow
from app.models.states import DeliveryState
from app.sending import campaigns as service
from app.sending.state_counts import fold, per_state
from tests.tracking.support import launched


def _counted(session: Session, cid: int) -> dict[str, int]:
    out = dict.fromkeys(DeliveryState.ALL, 0)
    rows = session.execute(
        select(col(Delivery.state), func.count()).where(col(Delivery.campaign_id) == cid).group_by(col(Delivery.state))
    ).all()
    return out | {s: int(n) for s, n in rows}


def test_state_counts_follow_every_write_of_the_ledger(settings, engine, session):  # type: ignore[no-untyped-def]
    campaign = launched(session, settings)
    cid = campaign.id
    assert per_state(session, [cid])[cid] == _counted(session, cid) and _counted(session, cid)["queued"] == 3
    other = 10_000 + cid  # a second campaign's large ledger, written as the worker writes it
    now = utcnow()
    insert_rows(session, Delivery, [{"campaign_id": other, "email": f"p{i}@example.test", "email_key": f"p{i}@example.test",
                                     "state": "queued", "attempts": 0} for i in range(40)])  # fmt: skip
    ids = list(session.execute(select(col(Delivery.id)).where(col(Delivery.campaign_id) == other)).scalars())
    update_rows(session, Delivery, [{"id": i, "state": "sent" if i % 3 else "deferred", "sent_at": now} for i in ids])
    update_rows(session, Delivery, [{"id": ids[0], "state": "failed", "sent_at": None}])  # one row alone
    session.execute(update(Delivery).where(col(Delivery.id) == ids[1]).values(state="bounced"))
    session.execute(update(Delivery).where(col(Delivery.id) == ids[2]).values(attempts=2))  # no state changed
    session.execute(delete(Delivery).where(col(Delivery.id) == ids[3]))
    session.commit()
    service.cancel(session, campaign, now)
    session.commit()
    for c in (cid, other):
        assert per_state(session, [c])[c] == _counted(session, c), c
    assert _counted(session, cid)["cancelled"] == 3
    if is_postgresql(session):
        assert fold(session) >= 1
        for c in (cid, other):
            assert per_state(session, [c])[c] == _counted(session, c), c
        parts = session.execute(select(col(CampaignStateCount.part)).distinct()).scalars()
        assert set(parts) == {0}

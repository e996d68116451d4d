"""The ledger's claim: due rows of the sending campaigns, earliest due first whatever their campaign or
state, each row to one worker only."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, update
from sqlmodel import Session, col

from app.models import Delivery
from app.sending import campaigns as service
from app.sending import ledger
from app.settings import Settings
from tests.sending.conftest import make_campaign, make_list

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
LEASE = timedelta(minutes=5)


def _launch(session: Session, settings: Settings, name: str, addresses: list[str]) -> int:
    lst = make_list(session, name, [(a, "P", {"city": "Oslo"}) for a in addresses])
    campaign = make_campaign(session, [lst.id])
    service.launch(session, campaign, settings, NOW - timedelta(hours=1))
    session.commit()
    assert campaign.id is not None
    return campaign.id


def _due(engine: Engine, email: str, state: str, at: datetime) -> None:
    with Session(engine) as s:
        s.execute(update(Delivery).where(col(Delivery.email) == email).values(state=state, next_attempt_at=at))
        s.commit()


def _claim(engine: Engine, campaign_ids: list[int], limit: int, owner: str) -> list[str]:
    with Session(engine) as s:
        rows = ledger.claim(s, campaign_ids, limit, LEASE, owner, NOW)
        s.commit()
    return [r.email for r in rows]


def test_a_claim_takes_the_earliest_due_rows_across_campaigns_and_states(settings, engine, session) -> None:  # type: ignore[no-untyped-def]
    one = _launch(session, settings, "one", [f"a{i}@one.test" for i in range(4)])
    two = _launch(session, settings, "two", [f"b{i}@two.test" for i in range(3)])
    paused = _launch(session, settings, "three", ["c0@three.test"])
    # a retry due long ago, queued rows at staggered times, one row not due yet
    _due(engine, "b2@two.test", "deferred", NOW - timedelta(hours=5))
    _due(engine, "a3@one.test", "deferred", NOW - timedelta(hours=4))
    _due(engine, "b0@two.test", "queued", NOW - timedelta(hours=3))
    _due(engine, "a0@one.test", "queued", NOW - timedelta(hours=2))
    _due(engine, "a1@one.test", "queued", NOW + timedelta(minutes=1))
    _due(engine, "c0@three.test", "queued", NOW - timedelta(hours=9))  # its campaign is not asked for

    first = _claim(engine, [one, two], 4, "w1")
    assert sorted(first) == sorted(["b2@two.test", "a3@one.test", "b0@two.test", "a0@one.test"])
    # the leased rows are not due for another worker; what is left and due is
    assert sorted(_claim(engine, [one, two], 10, "w2")) == ["a2@one.test", "b1@two.test"]
    assert _claim(engine, [one, two], 10, "w3") == []  # a1 is not due yet
    assert _claim(engine, [paused], 10, "w4") == ["c0@three.test"]

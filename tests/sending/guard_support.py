"""A sending campaign with ledger and bounce rows written directly, for the guard's rates."""

from datetime import datetime, timedelta

from sqlalchemy import Engine, insert
from sqlmodel import Session

from app.models import Bounce, Campaign, Delivery, utcnow
from tests.sending.conftest import make_campaign, make_list


def sending_campaign(session: Session, name: str = "Spring news") -> Campaign:
    lst = make_list(session, f"list of {name}", [(f"one@{name.replace(' ', '-')}.test", "One", {"city": "Oslo"})])
    campaign = make_campaign(session, [lst.id], name=name)
    # launched before every row the tests write (the oldest are 8 days old): the rates read the ledger
    campaign.state, campaign.launched_at = "sending", utcnow() - timedelta(days=30)
    session.add(campaign)
    session.commit()
    return campaign


def ledger_rows(
    engine: Engine, campaign_id: int, n: int, at: datetime | None, state: str = "sent", start: int = 0
) -> None:
    rows = [
        {"campaign_id": campaign_id, "email": f"r{i}@x.test", "email_key": f"r{i}@x.test", "state": state,
         "attempts": 1, "last_attempt_at": at, "sent_at": at if state in ("sent", "bounced") else None}
        for i in range(start, start + n)
    ]  # fmt: skip
    with engine.begin() as conn:
        conn.execute(insert(Delivery), rows)


def bounce_rows(
    engine: Engine, campaign_id: int, n: int, at: datetime, kind: str = "bounce", hard: bool = True
) -> None:
    rows = [
        {"campaign_id": campaign_id, "kind": kind, "reason": "userunknown", "hard": hard, "email": f"r{i}@x.test",
         "email_key": f"r{i}@x.test", "created_at": at, "source": "sweep", "attribution": "verp"}
        for i in range(n)
    ]  # fmt: skip
    with engine.begin() as conn:
        conn.execute(insert(Bounce), rows)

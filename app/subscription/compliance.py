"""Unsubscribe compliance of a campaign, from the ledger: for every address that unsubscribed through it
(one-click, the unsubscribe page, a mailed request), how long until mail to that address stopped, and
whether anything went out afterwards. Gmail and Yahoo require an unsubscribe to be honoured within two
days; bulkmail suppresses at once, so the only mail after an unsubscribe should be a message already
handed to the relay in the same moment.

An unsubscribe from one list counts only the later mail of campaigns sent to that list; one from every
list counts all later mail. The time an unsubscribe takes effect is that of its suppression row: the
click itself, or the sweep that read a mailed request."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlmodel import Session, col

from app.db import chunks
from app.models import Campaign, Delivery, Suppression
from app.models.states import DeliveryState, SuppressionReason

RULE = timedelta(hours=48)
_WENT_OUT = (DeliveryState.SENT, DeliveryState.BOUNCED)


@dataclass(frozen=True)
class Compliance:
    unsubscribes: int
    mailed_after: int  # addresses that got a message after they unsubscribed
    violations: int  # ... more than 48 hours after
    longest: timedelta  # the longest time from an unsubscribe to the last message it let through (0: none)


def unsubscribe_compliance(session: Session, campaign_id: int) -> Compliance:
    asked = session.execute(
        select(col(Suppression.email_key), col(Suppression.created_at), col(Suppression.list_id)).where(
            col(Suppression.campaign_id) == campaign_id, col(Suppression.reason) == SuppressionReason.UNSUBSCRIBED
        )
    ).all()
    if not asked:
        return Compliance(0, 0, 0, timedelta(0))
    lists_of: dict[int, set[int]] = {}
    late: dict[tuple[str, int | None], timedelta] = {}  # (address, list) -> longest delay after the unsubscribe
    by_key: dict[str, list[tuple[datetime, int | None]]] = defaultdict(list)
    for key, at, list_id in asked:
        by_key[key].append((at, list_id))
    for keys in chunks(sorted(by_key)):
        since = min(at for k in keys for at, _ in by_key[k])
        sent = session.execute(
            select(col(Delivery.email_key), col(Delivery.campaign_id), col(Delivery.sent_at)).where(
                col(Delivery.email_key).in_(keys), col(Delivery.state).in_(_WENT_OUT), col(Delivery.sent_at) > since
            )
        ).all()
        for key, sent_campaign, sent_at in sent:
            for at, list_id in by_key[key]:
                if sent_at <= at or (list_id is not None and list_id not in _lists(session, lists_of, sent_campaign)):
                    continue
                late[(key, list_id)] = max(late.get((key, list_id), timedelta(0)), sent_at - at)
    return Compliance(
        unsubscribes=len(asked),
        mailed_after=len(late),
        violations=sum(1 for delay in late.values() if delay > RULE),
        longest=max(late.values(), default=timedelta(0)),
    )


def _lists(session: Session, cache: dict[int, set[int]], campaign_id: int) -> set[int]:
    if campaign_id not in cache:
        ids = session.execute(select(col(Campaign.list_ids)).where(col(Campaign.id) == campaign_id)).scalar_one()
        cache[campaign_id] = set(ids or ())
    return cache[campaign_id]

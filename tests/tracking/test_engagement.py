"""Engagement in segments on a launched campaign: people who opened or clicked, not machines, within a time."""

from datetime import timedelta

from sqlmodel import Session

from app.audience.segments.store import preview
from app.db import insert_rows
from app.models import TrackingHit, utcnow
from tests.tracking.support import launched, sent


def test_opened_and_clicked_by_people_within_days(settings, engine, session):  # type: ignore[no-untyped-def]
    campaign = launched(session, settings)
    other = launched(session, settings, name="Other", list_id=campaign.list_ids[0])
    campaign_id, other_id = campaign.id, other.id
    session.close()  # the launches' session reads no more: the writes below take the database
    now = utcnow()
    a, b, c = sent(engine, campaign_id, now - timedelta(days=10))
    [oa, *_] = sent(engine, other_id, now - timedelta(days=10))
    hits = [(a.id, campaign_id, 0, now - timedelta(days=1), False), (a.id, campaign_id, 1, now - timedelta(days=1), False),
            (b.id, campaign_id, 0, now - timedelta(days=8), False),
            (c.id, campaign_id, 1, now - timedelta(days=1), True),  # a scanner's click: no engagement
            (oa.id, other_id, 0, now - timedelta(days=1), False)]  # fmt: skip
    with Session(engine) as s:
        insert_rows(s, TrackingHit, [{"delivery_id": d, "campaign_id": cid, "link": link, "at": at, "signal": None,
                                      "machine": machine, "reason": "burst" if machine else None}
                                     for d, cid, link, at, machine in hits])  # fmt: skip
        s.commit()

    def who(expression: str) -> set[str]:
        with Session(engine) as s:
            return set(preview(s, expression, now, sample=10).sample)

    assert who(f"opened campaign {campaign_id}") == {"alice@example.test", "bob@gmail.com"}
    assert who(f"opened campaign {campaign_id} within 7 days") == {"alice@example.test"}
    assert who(f"clicked campaign {campaign_id}") == {"alice@example.test"}
    assert who(f"clicked link 'https://shop.example/sale?a=1&b=2' campaign {campaign_id}") == {"alice@example.test"}
    assert who(f"clicked campaign {campaign_id} including machines") == {"alice@example.test", "carol@example.test"}
    assert who(f"opened campaign {other_id}") == {"alice@example.test"}
    assert who("clicked") == {"alice@example.test"}
    assert who("opened within 3 days") == {"alice@example.test"}

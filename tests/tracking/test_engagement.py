"""The segments' engagement conditions: people who opened or clicked, not machines, within a time."""

from datetime import timedelta

from sqlalchemy import select
from sqlmodel import Session, col

from app.db import insert_rows
from app.models import Contact, TrackingHit, utcnow
from app.tracking.engagement import engaged_contacts
from tests.tracking.support import launched, sent


def _emails(engine, query) -> set[str]:  # type: ignore[no-untyped-def]
    with Session(engine) as s:
        return set(s.execute(select(col(Contact.email)).where(col(Contact.id).in_(query))).scalars())


def test_opened_and_clicked_by_people_within_days(settings, engine, session):
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
    assert _emails(engine, engaged_contacts("opened", campaign_id)) == {"alice@example.test", "bob@gmail.com"}
    assert _emails(engine, engaged_contacts("opened", campaign_id, within_days=7)) == {"alice@example.test"}
    assert _emails(engine, engaged_contacts("clicked", campaign_id)) == {"alice@example.test"}
    assert _emails(engine, engaged_contacts("opened", other_id)) == {"alice@example.test"}
    assert _emails(engine, engaged_contacts("clicked")) == {"alice@example.test"}
    assert _emails(engine, engaged_contacts("opened", within_days=3)) == {"alice@example.test"}

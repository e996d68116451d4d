"""A small world of contacts for the segment tests: fields, lists, consent and history."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session

from app.addresses import normalise
from app.audience import fields
from app.models import Bounce, Campaign, Contact, Delivery, ListMember, MailingList, Suppression, utcnow

NOW = utcnow()


@dataclass
class World:
    news: int
    offers: int
    campaign: int
    ids: dict[str, int]


def _contact(session: Session, email: str, created: datetime, **attributes: object) -> Contact:
    a = normalise(email)
    c = Contact(email=a.email, email_key=a.key, attributes=attributes, created_at=created, first_name=None)
    session.add(c)
    session.flush()
    return c


@pytest.fixture
def world(session: Session) -> World:
    fields.define(session, "country", "Country", "text")
    fields.define(session, "score", "Score", "number")
    fields.define(session, "vip", "VIP", "boolean")
    fields.define(session, "birthday", "Birthday", "date")
    fields.define(session, "plan", "Plan", "choice", ["Gold", "Silver"])
    news, offers = MailingList(name="News"), MailingList(name="Offers")
    session.add_all([news, offers])
    session.flush()
    t = datetime(2026, 1, 10, 12, tzinfo=UTC)
    ann = _contact(session, "ann@example.de", t, country="DE", score=10, vip=True, birthday="1990-05-01", plan="Gold")
    ann.first_name = "Ann"
    bob = _contact(session, "bob@example.at", t + timedelta(days=150), country="AT", score=55.5, vip=False)
    cy = _contact(session, "cy@mail.de", NOW - timedelta(days=3), country="DE", plan="Silver")
    dee = _contact(session, "dee@example.de", NOW - timedelta(days=40), score="12", country="")
    obr = _contact(session, "o'brien@example.ie", t, country="IE'; DROP TABLE contact; --", vip="yes")
    assert news.id and offers.id
    for c, lists, status in (
        (ann, [news.id], "subscribed"),
        (bob, [news.id, offers.id], "subscribed"),
        (cy, [offers.id], "subscribed"),
        (obr, [news.id], "unconfirmed"),
    ):
        for list_id in lists:
            session.add(
                ListMember(list_id=list_id, contact_id=c.id, source="csv" if c is ann else "api", status=status)
            )
    campaign = Campaign(name="c", from_address="a@b.test", subject="s", state="completed")
    session.add(campaign)
    session.flush()
    assert campaign.id
    for c, days in ((ann, 5), (bob, 100), (cy, 2)):
        session.add(Delivery(campaign_id=campaign.id, contact_id=c.id, email=c.email, email_key=c.email_key,
                             state="sent", sent_at=NOW - timedelta(days=days)))  # fmt: skip
    for c, hard, reason, days in ((bob, True, "user_unknown", 10), (cy, False, "mailbox_full", 200)):
        session.add(Bounce(kind="bounce", reason=reason, hard=hard, email=c.email, email_key=c.email_key,
                           campaign_id=campaign.id, attribution="verp", created_at=NOW - timedelta(days=days)))  # fmt: skip
    session.add(Bounce(kind="complaint", reason="abuse", hard=False, email=cy.email, email_key=cy.email_key,
                       attribution="arf", created_at=NOW - timedelta(days=1)))  # fmt: skip
    session.add(Suppression(email=cy.email, email_key=cy.email_key, reason="unsubscribed", list_id=offers.id,
                            campaign_id=campaign.id, created_at=NOW - timedelta(days=1)))  # fmt: skip
    session.commit()
    ids = {c.email: int(c.id or 0) for c in (ann, bob, cy, dee, obr)}
    return World(news.id, offers.id, campaign.id, ids)

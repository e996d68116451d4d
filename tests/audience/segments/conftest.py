"""A small world of contacts for the segment tests: fields, lists, consent and history."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session

from app.addresses import normalise
from app.audience import fields
from app.models import (
    Bounce,
    Campaign,
    CampaignLink,
    Contact,
    Delivery,
    ListMember,
    MailingList,
    Suppression,
    TrackingHit,
    utcnow,
)

NOW = utcnow()


@dataclass
class World:
    news: int
    offers: int
    campaign: int
    ids: dict[str, int]
    anonymous: int  # a campaign tracked without naming anyone


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
    campaign = Campaign(name="c", from_address="a@b.test", subject="s", state="completed", tracking="contact")
    anonymous = Campaign(name="a", from_address="a@b.test", subject="s", state="completed", tracking="anonymous")
    session.add_all([campaign, anonymous])
    session.flush()
    assert campaign.id and anonymous.id
    delivery = {}
    for c, days in ((ann, 5), (bob, 100), (cy, 2)):
        d = Delivery(campaign_id=campaign.id, contact_id=c.id, email=c.email, email_key=c.email_key,
                     state="sent", sent_at=NOW - timedelta(days=days))  # fmt: skip
        session.add(d)
        session.flush()
        delivery[c.email] = d.id
    session.add_all([CampaignLink(campaign_id=campaign.id, position=1, url="https://shop.example/sale"),
                     CampaignLink(campaign_id=campaign.id, position=2, url="https://shop.example/news")])  # fmt: skip
    # ann opened and clicked the sale 4 days ago; bob opened 60 days ago and a scanner clicked his news
    # link; Apple's proxy fetched cy's pixel yesterday; the anonymous campaign's hits name no one
    for email, link, days, reason in ((ann.email, 0, 4, None), (ann.email, 1, 4, None), (bob.email, 0, 60, None),
                                      (bob.email, 2, 99, "burst"), (cy.email, 0, 1, "apple")):  # fmt: skip
        session.add(TrackingHit(campaign_id=campaign.id, delivery_id=delivery[email], link=link,
                                at=NOW - timedelta(days=days), machine=reason is not None, reason=reason))  # fmt: skip
    session.add(TrackingHit(campaign_id=anonymous.id, link=0, at=NOW - timedelta(days=1), machine=False))
    for c, hard, reason, days in ((bob, True, "user_unknown", 10), (cy, False, "mailbox_full", 200)):
        session.add(Bounce(kind="bounce", reason=reason, hard=hard, email=c.email, email_key=c.email_key,
                           campaign_id=campaign.id, attribution="verp", created_at=NOW - timedelta(days=days)))  # fmt: skip
    session.add(Bounce(kind="complaint", reason="abuse", hard=False, email=cy.email, email_key=cy.email_key,
                       attribution="arf", created_at=NOW - timedelta(days=1)))  # fmt: skip
    session.add(Suppression(email=cy.email, email_key=cy.email_key, reason="unsubscribed", list_id=offers.id,
                            campaign_id=campaign.id, created_at=NOW - timedelta(days=1)))  # fmt: skip
    session.commit()
    ids = {c.email: int(c.id or 0) for c in (ann, bob, cy, dee, obr)}
    return World(news.id, offers.id, campaign.id, ids, anonymous.id)

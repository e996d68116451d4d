"""A CMS user who takes over an imported contact's address: the ledger keeps that contact's rows."""

from sqlalchemy import select
from sqlmodel import Session

from app.audience.cms import CmsUser, upsert_users
from app.models import Campaign, Contact, Delivery, utcnow
from tests.audience.support import add_contacts, make_list


def test_merged_contact_leaves_its_ledger_rows_without_a_contact(session: Session) -> None:
    ml = make_list(session, "News")
    add_contacts(session, ml, "taken@x.org")
    upsert_users(session, [CmsUser(external_id="u1", email="first@x.org")], ml.id, utcnow())
    session.commit()
    imported = session.execute(select(Contact).where(Contact.email_key == "taken@x.org")).scalar_one()
    campaign = Campaign(name="c", from_address="news@example.test", subject="Hi", state="completed")
    session.add(campaign)
    session.commit()
    session.add(Delivery(campaign_id=campaign.id, contact_id=imported.id, email="taken@x.org", email_key="taken@x.org",
                         state="sent", sent_at=utcnow()))  # fmt: skip
    session.commit()
    (result,) = upsert_users(session, [CmsUser(external_id="u1", email="taken@x.org")], ml.id, utcnow())
    session.commit()
    assert result.status == "updated"
    contacts = session.execute(select(Contact.email, Contact.external_id)).all()
    assert contacts == [("taken@x.org", "u1")]
    rows = session.execute(select(Delivery.email, Delivery.contact_id, Delivery.state)).all()
    assert rows == [("taken@x.org", None, "sent")]

"""A launched campaign with tracked links, and its messages as the worker would write them."""

import email
import email.policy
import re
from datetime import datetime, timedelta

from sqlalchemy import Engine, select, update
from sqlmodel import Session, col

from app.models import Campaign, Delivery, utcnow
from app.secret_key import get_secret_key
from app.sending import campaigns as service
from app.sending.identities import composer
from app.settings import Settings
from app.tracking import settle
from tests.sending.conftest import make_campaign, make_list

PEOPLE = [("alice@example.test", "Alice", {"city": "Oslo"}), ("bob@gmail.com", "Bob", {"city": "Rome"}),
          ("carol@example.test", "Carol", {"city": "Lima"})]  # fmt: skip
HTML = (
    '<html><body><p>Hello {{ first_name }}</p><a href="https://shop.example/sale?a=1&amp;b=2">Sale</a> '
    '<a href="https://shop.example/news">News</a> <a href="https://shop.example/?u={{ email }}">mine</a> '
    '<a href="{{ unsubscribe_url }}">unsubscribe</a></body></html>'
)
TEXT = "Hello {{ first_name }}\nSale: https://shop.example/sale?a=1&b=2.\nUnsubscribe: {{ unsubscribe_url }}\n"


def launched(session: Session, settings: Settings, tracking: str | None = "contact", list_id: int | None = None,
             **kw) -> Campaign:  # type: ignore[no-untyped-def]  # fmt: skip
    lst_id = list_id if list_id is not None else make_list(session, "team", PEOPLE).id
    campaign = make_campaign(
        session, [lst_id], **{"html_template": HTML, "text_template": TEXT, "tracking": tracking, **kw}
    )
    service.launch(session, campaign, settings, utcnow())
    session.commit()
    return campaign


def sent(engine: Engine, campaign_id: int, at: datetime) -> list[Delivery]:
    """Mark the campaign's ledger rows sent at AT (as the worker would), and return them."""
    with Session(engine) as s:
        s.execute(
            update(Delivery)
            .where(col(Delivery.campaign_id) == campaign_id)
            .values(state="sent", sent_at=at, last_attempt_at=at)  # fmt: skip
        )
        s.commit()
        return list(s.execute(select(Delivery).where(col(Delivery.campaign_id) == campaign_id)).scalars())


def message(engine: Engine, settings: Settings, campaign_id: int, d: Delivery) -> email.message.EmailMessage:
    with Session(engine) as s:
        campaign = s.get(Campaign, campaign_id)
        assert campaign is not None
        c = composer(s, campaign, settings, get_secret_key(settings, engine), None)
    raw = c.compose(d.email, "Alice", None, {"city": "Oslo"}, delivery_id=d.id, contact_id=d.contact_id).data
    return email.message_from_bytes(raw.replace(b"\r\n..", b"\r\n."), policy=email.policy.default)  # type: ignore[return-value]


def tracked_urls(msg: email.message.EmailMessage) -> tuple[str, list[str]]:
    """The open pixel's URL and the click URLs of the HTML part."""
    body = msg.get_body(("html",)).get_content()  # type: ignore[union-attr]
    [pixel] = re.findall(r'<img src="([^"]+/t/o/[^"]+)"', body)
    return pixel, re.findall(r'href="([^"]+/t/c/[^"]+)"', body)


def settle_all(engine: Engine, settings: Settings) -> int:
    """Settle every hit, as the recorder's thread would once the burst window has passed."""
    return settle.settle_due(engine, settings, utcnow() + timedelta(minutes=5))

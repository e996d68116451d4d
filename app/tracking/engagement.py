"""Engagement as the segments language reads it (`opened`, `clicked`): the hits that count as an address
having opened or clicked a message, joined to the ledger row that names the address.

A click is a read too, so `opened` takes the pixel and every click. Only settled hits that the rules
(app/tracking/rules.py) judged a person's count, unless machines are asked for too (then every hit
counts, settled or not). Only per-contact tracking knows whose message a hit was: a campaign tracked
anonymously or not at all has no one's opens, which the segments compiler refuses to pretend
(`untracked`)."""

from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, select
from sqlmodel import Session, col

from app.models import Campaign, CampaignLink, Delivery, TrackingHit
from app.tracking import modes


@dataclass(frozen=True)
class Hits:
    """The hits that count: rows of `source` with `key` (the address's email_key) and every `where`;
    `at` is when each came."""

    source: Any
    key: Any
    at: Any
    where: list[Any]


def hits(clicks: bool, campaign_id: int | None = None, url: str | None = None, machines: bool = False) -> Hits:
    """Opens (CLICKS false: the pixel or any click) or clicks (of the link to URL when given) of
    CAMPAIGN_ID's messages (any campaign when None), people's only unless MACHINES."""
    hit, delivery = TrackingHit, Delivery
    source: Any = hit.__table__.join(delivery.__table__, col(delivery.id) == col(hit.delivery_id))  # type: ignore[attr-defined]
    where: list[Any] = [col(delivery.sent_at).is_not(None)]  # the ledger's index of sent rows by address
    if not machines:
        where.append(col(hit.machine).is_(False))
    if clicks:
        where.append(col(hit.link) > 0)
    if url is not None:
        link = CampaignLink.__table__  # type: ignore[attr-defined]
        source = source.join(link, and_(link.c.campaign_id == col(hit.campaign_id), link.c.position == col(hit.link)))
        where.append(link.c.url == url)
    if campaign_id is not None:
        where.append(col(hit.campaign_id) == campaign_id)
    return Hits(source, col(delivery.email_key), col(hit.at), where)


def untracked(session: Session) -> dict[int, str]:
    """Launched campaigns whose hits name no contact: id -> their mode (anonymous or none)."""
    rows = session.execute(
        select(col(Campaign.id), col(Campaign.tracking)).where(
            col(Campaign.tracking).in_((modes.ANONYMOUS, modes.NONE))
        )
    ).tuples()
    return {int(i): str(m) for i, m in rows}

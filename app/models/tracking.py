"""Opens and clicks: a campaign's links frozen at launch, each hit as it came in, and the counts the
report reads (app/tracking)."""

from datetime import datetime

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.models.types import TEXT_LENGTH, UTCDateTime, partial_index


class CampaignLink(SQLModel, table=True):
    """A link of a campaign's message; a click token names its position, so a redirect only ever goes
    to a URL the campaign had (no open redirect)."""

    __tablename__ = "campaign_link"
    __table_args__ = (UniqueConstraint("campaign_id", "position", name="uq_campaign_link_position"),)

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", ondelete="CASCADE")
    position: int = Field(description="1, 2, ... in the order the HTML and then the text first name it")
    url: str = Field(max_length=TEXT_LENGTH)


class TrackingHit(SQLModel, table=True):
    """One fetch of an open pixel or a click redirect. Neither the IP address nor the user agent is kept:
    only what the rules read from them (`signal`). `machine` is None until the hit is settled (a few
    seconds later, when a burst of clicks on every link of the message would have shown)."""

    __tablename__ = "tracking_hit"
    __table_args__ = (
        Index("ix_tracking_hit_campaign_delivery", "campaign_id", "delivery_id"),
        partial_index("ix_tracking_hit_delivery", "delivery_id", "at", where="delivery_id IS NOT NULL"),
        partial_index("ix_tracking_hit_unsettled", "id", where="machine IS NULL"),
    )

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int
    delivery_id: int | None = Field(default=None, description="per-contact tracking only")
    link: int = Field(default=0, description="0: an open; else the position of the link clicked")
    at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    signal: str | None = Field(default=None, max_length=20, description="apple, agent: what the request showed")
    machine: bool | None = None
    reason: str | None = Field(default=None, max_length=20, description="why a machine: the rule that said so")


class TrackingCount(SQLModel, table=True):
    """Settled hits per campaign, hour, link and rule: what the report reads (a million deliveries' hits
    are a few thousand of these rows). `reason` is the machine rule that decided, "" for a person's hits.
    `firsts` counts deliveries whose first hit of the kind by a person (or by a machine) it was: unique
    openers, unique clickers of a link; link -1 holds unique clickers of any link."""

    __tablename__ = "tracking_count"

    campaign_id: int = Field(primary_key=True)
    hour: datetime = Field(sa_type=UTCDateTime, primary_key=True)
    link: int = Field(primary_key=True)
    reason: str = Field(primary_key=True, max_length=20)
    hits: int = 0
    firsts: int = 0

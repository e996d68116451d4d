"""Campaigns and the ledger: one delivery row per recipient per campaign."""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, ForeignKey, Index, Integer, Text, UniqueConstraint, false
from sqlmodel import Field, SQLModel

from app.models.states import CampaignKind, CampaignState, DeliveryState
from app.models.types import EMAIL_LENGTH, LINE_LENGTH, NAME_LENGTH, TEXT_LENGTH, UTCDateTime, partial_index, utcnow


class Campaign(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=NAME_LENGTH)
    # bulk: a campaign to lists and segments; transactional: a sending identity's stream of messages sent one
    # at a time through the API (app.sending.transactional), never shown among the campaigns
    kind: str = Field(default=CampaignKind.BULK, max_length=20, sa_column_kwargs={"server_default": CampaignKind.BULK})
    from_name: str = Field(default="", max_length=NAME_LENGTH)
    from_address: str = Field(max_length=EMAIL_LENGTH)
    reply_to: str | None = Field(default=None, max_length=EMAIL_LENGTH)
    subject: str = Field(max_length=998)
    html_template: str = ""
    text_template: str = ""
    list_ids: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # the audience besides the lists: contacts in these segments, less the members of the excluded lists
    # and the contacts of the excluded segments (all evaluated at launch)
    segment_ids: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False, server_default="[]"))
    exclude_list_ids: list[int] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False, server_default="[]")
    )
    exclude_segment_ids: list[int] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False, server_default="[]")
    )
    # who it is from (None: the settings' sender, DKIM key and bounce address) and where it goes out
    # (no relays named: the identity's, else every enabled relay, else the settings' relay)
    identity_id: int | None = Field(default=None, foreign_key="sending_identity.id")
    relay_ids: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    headers: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # "jinja": the HTML body is a Jinja2 template; "mjml": MJML (with Jinja2 inside), compiled to HTML once a campaign
    template_language: str = Field(default="jinja", max_length=10)
    # a saved layout (app.sending.library) whose {{ content }} slot the bodies fill; None: the bodies as they are
    layout_id: int | None = Field(default=None, foreign_key="message_template.id")
    # shown on the public archive of its lists (those whose archive is on), rendered without personal data
    archived: bool = False
    state: str = Field(default=CampaignState.DRAFT, max_length=20, index=True)
    send_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # when its messages may go out (app.sending.window): days and hours in a zone, and "at HH:MM on each
    # recipient's clock" (the contact field holding the zone, the default zone); None: any time
    send_window: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    local_time: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    paused_reason: str | None = Field(default=None, max_length=TEXT_LENGTH)
    # set while the relay cannot be reached (the campaign keeps sending and retries); cleared when it answers
    relay_unreachable_since: datetime | None = Field(default=None, sa_type=UTCDateTime)
    relay_next_try_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    relay_problem: str | None = Field(default=None, max_length=TEXT_LENGTH)
    # set when the deliverability guard paused it: which rate crossed which threshold, over which window
    # (the pages word it in the reader's language; paused_reason keeps the English for the API)
    guard_pause: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    # a marketer resumed it past the guard: its rates still warn, but no longer pause it
    guard_override: bool = False
    # opens and clicks: none, anonymous or contact; None follows the settings' default until launch fixes it
    tracking: str | None = Field(default=None, max_length=20)
    # the automation whose send step this campaign is (its ledger gets rows as contacts reach the step, so it
    # stays sending and never completes by running out of rows); None: an ordinary campaign
    automation_id: int | None = None
    # an A/B test (app.sending.abtest): {"percent": share of the audience tested, "wait_minutes": before the
    # winner is picked, "pick": clicks | opens | bounces | manual}; None: no test. ab_winner: the chosen variant
    ab_test: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    ab_winner: int | None = None
    audience_counts: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False), description="compile counts frozen at launch"
    )
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    launched_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    completed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class CampaignVariant(SQLModel, table=True):
    """One variant of an A/B-tested campaign: what differs from the campaign's own message (None: the
    campaign's). Numbered from 1; a ledger row's `variant` names the one it is sent with."""

    __tablename__ = "campaign_variant"
    __table_args__ = (UniqueConstraint("campaign_id", "number", name="uq_campaign_variant_number"),)

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(sa_column=Column(Integer, ForeignKey("campaign.id", ondelete="CASCADE"), nullable=False))
    number: int
    subject: str | None = Field(default=None, max_length=998)
    from_name: str | None = Field(default=None, max_length=NAME_LENGTH)
    html_template: str | None = Field(default=None, sa_type=Text)
    text_template: str | None = Field(default=None, sa_type=Text)


class MessageTemplate(SQLModel, table=True):
    """A saved template (subject and bodies a campaign starts from) or layout (bodies with a {{ content }} slot
    that wraps a campaign's bodies)."""

    __tablename__ = "message_template"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=NAME_LENGTH, unique=True)
    kind: str = Field(default="template", max_length=10, description="template | layout")
    template_language: str = Field(default="jinja", max_length=10, description="jinja | mjml")
    subject: str = Field(default="", max_length=998)
    html_template: str = ""
    text_template: str = ""
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class Delivery(SQLModel, table=True):
    """The ledger row. The row is the queue: claiming, sending and recording happen on it.

    A launch writes a million of these in one statement, so every index and constraint here is paid
    per recipient: the indexes that only matter once a row has gone out are partial (a queued row is
    in none of them), and campaign_id / contact_id carry no foreign keys (a per-row check that locked
    every contact row took most of a launch on PostgreSQL). The rows are only ever inserted from the
    campaign and contacts in the same transaction; a campaign with a ledger is never deleted, and
    merging a contact away clears its contact_id here (app.audience.cms)."""

    __table_args__ = (
        # one bulk row per address and campaign (what makes a launch idempotent); a transactional stream
        # holds any number of messages to one address
        partial_index("uq_delivery_campaign_email", "campaign_id", "email_key", where="NOT transactional", unique=True),
        # the workers' claim: a campaign's rows in one due state, read in due-time order (so a claim reads
        # its batch, not every due row); also a campaign's counts per state
        Index("ix_delivery_campaign_due", "campaign_id", "state", "next_attempt_at"),
        # an address's ledger rows that went out: the bounce policy's "clean send since the bounce" and
        # attribution's ledger layer (both ask for sent_at, which a queued row does not have)
        partial_index("ix_delivery_email_key_state_sent", "email_key", "state", "sent_at", where="sent_at IS NOT NULL"),
        # the guard's rates: a campaign's messages out within a window (a queued row has no attempt yet)
        partial_index(
            "ix_delivery_campaign_attempted",
            "campaign_id",
            "last_attempt_at",
            "state",
            where="last_attempt_at IS NOT NULL",
        ),
        partial_index("ix_delivery_message_id", "message_id", where="message_id IS NOT NULL"),
        partial_index("uq_delivery_verp_token", "verp_token", where="verp_token IS NOT NULL", unique=True),
    )

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int
    contact_id: int | None = None
    email: str = Field(max_length=EMAIL_LENGTH)
    email_key: str = Field(max_length=EMAIL_LENGTH)
    state: str = Field(default=DeliveryState.QUEUED, max_length=20)
    attempts: int = 0
    # an A/B-tested campaign's variant the row is sent with; None: the campaign's own message, or a row
    # parked (waiting, no due time) until the winner is chosen
    variant: int | None = None
    next_attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    lease_owner: str | None = Field(default=None, max_length=100)
    first_attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_reply_code: int | None = None
    last_reply: str | None = Field(default=None, max_length=TEXT_LENGTH)
    message_id: str | None = Field(default=None, max_length=LINE_LENGTH)
    verp_token: str | None = Field(default=None, max_length=100)
    bounced_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # a message sent through the API (its campaign is a transactional stream; its content is a MessageContent)
    transactional: bool = Field(default=False, sa_column_kwargs={"server_default": false()})


class MessageContent(SQLModel, table=True):
    """A transactional message's content, rendered when it was asked for, and who asked: one row per
    transactional ledger row."""

    __tablename__ = "message_content"

    delivery_id: int = Field(foreign_key="delivery.id", primary_key=True, ondelete="CASCADE")
    api_key_id: int | None = Field(default=None, foreign_key="api_key.id", ondelete="SET NULL")
    reference: str = Field(default="", max_length=NAME_LENGTH, description="the sender's own reference")
    template_id: int | None = Field(default=None, description="the saved template it was rendered from")
    from_name: str = Field(default="", max_length=NAME_LENGTH)
    from_address: str = Field(max_length=EMAIL_LENGTH)
    reply_to: str | None = Field(default=None, max_length=EMAIL_LENGTH)
    subject: str = Field(default="", max_length=998)
    html: str = Field(default="", sa_type=Text)
    text: str = Field(default="", sa_type=Text)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class CampaignStateCount(SQLModel, table=True):
    """How many of a campaign's ledger rows are in each state, kept by triggers on `delivery` (migration
    0024) so no page counts a million rows. A campaign's count of a state is the sum over `part`: SQLite
    (one writer) keeps one row, part 0, changed in place; on PostgreSQL each transaction that changes
    states adds to a row of its own (part: its transaction id), so no two workers ever wait on one
    counter, and the scheduler folds those into part 0 (app/sending/state_counts.py)."""

    __tablename__ = "campaign_state_count"

    campaign_id: int = Field(primary_key=True)
    state: str = Field(primary_key=True, max_length=20)
    part: int = Field(default=0, primary_key=True, sa_type=BigInteger)
    n: int


class CampaignDomainStateCount(SQLModel, table=True):
    """How many of a campaign's ledger rows go to each receiving domain (what follows the key's "@"; "" for an
    erased address), per state: kept by triggers on `delivery` (migration 0028) as `campaign_state_count` is,
    with the same parts, so the report's results per domain and provider never count the ledger."""

    __tablename__ = "campaign_domain_state_count"

    campaign_id: int = Field(primary_key=True)
    domain: str = Field(primary_key=True, max_length=EMAIL_LENGTH)
    state: str = Field(primary_key=True, max_length=20)
    part: int = Field(default=0, primary_key=True, sa_type=BigInteger)
    n: int


class DeliveryAttempt(SQLModel, table=True):
    """Each try at a delivery and the relay's answer, for the ledger search."""

    __tablename__ = "delivery_attempt"

    id: int | None = Field(default=None, primary_key=True)
    delivery_id: int = Field(foreign_key="delivery.id", index=True, ondelete="CASCADE")
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    outcome: str = Field(max_length=20, description="sent | deferred | failed | expired")
    reply_code: int | None = None
    reply: str | None = Field(default=None, max_length=TEXT_LENGTH)

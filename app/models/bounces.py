"""What the bounce sweep found, and its log."""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, Text
from sqlmodel import Field, SQLModel

from app.models.states import BounceSource
from app.models.types import EMAIL_LENGTH, LINE_LENGTH, NAME_LENGTH, TEXT_LENGTH, UTCDateTime, utcnow

# the Bounce columns sized for what a DSN carries: a reason name, an RFC 3463 status, an SMTP reply code
REASON_LENGTH = 40
STATUS_LENGTH = 20
REPLY_CODE_LENGTH = 10


class MailboxSweep(SQLModel, table=True):
    __tablename__ = "mailbox_sweep"

    id: int | None = Field(default=None, primary_key=True)
    protocol: str = Field(max_length=10)
    trigger: str = Field(default="schedule", max_length=20, description="schedule | cli | api")
    state: str = Field(default="running", max_length=20, description="running | done | failed | abandoned")
    owner: str | None = Field(default=None, max_length=LINE_LENGTH, description="host:pid of the sweeping process")
    started_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    seen: int = 0
    recorded: int = 0
    deleted: int = 0
    kept: int = 0
    errors: int = 0
    per_kind: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    per_layer: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    error: str | None = Field(default=None, max_length=4000)


class ProcessedMessage(SQLModel, table=True):
    """A mailbox message the sweep has committed; its hash makes reruns idempotent."""

    __tablename__ = "processed_message"

    id: int | None = Field(default=None, primary_key=True)
    sweep_id: int = Field(foreign_key="mailbox_sweep.id", index=True, ondelete="CASCADE")
    mailbox_uid: str = Field(max_length=NAME_LENGTH)
    content_hash: str = Field(max_length=64, unique=True)
    kind: str = Field(max_length=20)
    size: int = 0
    deleted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class Bounce(SQLModel, table=True):
    """One returned-mail finding per affected recipient (bounce, complaint, auto-reply, unsubscribe)."""

    __table_args__ = (
        # the bounce policy: an address's bounces of one kind, by time
        Index("ix_bounce_email_key_kind_created", "email_key", "kind", "created_at"),
        # newest first, by keyset, alone or within one kind, reason or campaign: the bounces page and the
        # API's list stop after one page however many rows match; also the dashboard's and chart's ranges
        Index("ix_bounce_created_id", "created_at", "id"),
        Index("ix_bounce_kind_created", "kind", "created_at", "id"),
        Index("ix_bounce_reason_created", "reason", "created_at", "id"),
        Index("ix_bounce_campaign_created", "campaign_id", "created_at", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=20, description="bounce | delayed | complaint | autoreply | unsubscribe | delivery")
    reason: str = Field(max_length=REASON_LENGTH)
    hard: bool = False
    email: str = Field(max_length=EMAIL_LENGTH)
    email_key: str = Field(max_length=EMAIL_LENGTH)
    status: str = Field(default="", max_length=STATUS_LENGTH)
    reply_code: str = Field(default="", max_length=REPLY_CODE_LENGTH)
    diagnostic: str = Field(default="", max_length=TEXT_LENGTH)
    remote_mta: str = Field(default="", max_length=LINE_LENGTH)
    delivery_id: int | None = Field(default=None, foreign_key="delivery.id", index=True, ondelete="SET NULL")
    campaign_id: int | None = Field(default=None, foreign_key="campaign.id", ondelete="SET NULL")
    transactional_id: int | None = Field(
        default=None,
        foreign_key="transactional_message.id",
        ondelete="SET NULL",
        description="the confirmation or welcome mail it came back from",
    )
    attribution: str = Field(default="none", max_length=20, description="verp | header | ledger | address | none")
    source: str = Field(
        default=BounceSource.SWEEP, max_length=20, description="sweep | smtp (synchronous 5xx) | expiry"
    )
    sweep_id: int | None = Field(default=None, foreign_key="mailbox_sweep.id", ondelete="SET NULL")
    processed_message_id: int | None = Field(default=None, foreign_key="processed_message.id", ondelete="SET NULL")
    original_message_id: str | None = Field(default=None, max_length=LINE_LENGTH)
    original_headers: str = Field(default="", sa_type=Text, description="the returned original's header block")
    evidence: str = Field(default="", max_length=NAME_LENGTH)
    suppression_id: int | None = Field(default=None, foreign_key="suppression.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)

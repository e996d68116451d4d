"""Response shapes of bounce records and the sweep log."""

from datetime import datetime
from typing import Literal

from sqlmodel import Field, SQLModel

BounceKind = Literal["bounce", "delayed", "complaint", "autoreply", "unsubscribe", "delivery"]


class MailboxSweepPublic(SQLModel):
    """A sweep log entry as the API shows it."""

    id: int
    protocol: str
    trigger: str
    state: str = Field(description="running | done | failed | abandoned (its process ended before it finished)")
    owner: str | None = Field(description="host:pid of the process that ran the sweep")
    started_at: datetime
    finished_at: datetime | None
    seen: int
    recorded: int
    deleted: int
    kept: int
    errors: int
    per_kind: dict[str, int]
    per_layer: dict[str, int]
    error: str | None


class BouncePublic(SQLModel):
    """A bounce record as the API shows it."""

    id: int
    kind: str
    reason: str
    hard: bool
    email: str
    status: str
    reply_code: str
    diagnostic: str
    remote_mta: str
    delivery_id: int | None
    campaign_id: int | None
    attribution: str
    source: str
    sweep_id: int | None
    original_message_id: str | None
    original_headers: str
    evidence: str
    suppression_id: int | None
    created_at: datetime

"""Per-receiving-domain pacing state, shared by every worker on every machine."""

from datetime import date, datetime

from sqlmodel import Field, SQLModel

from app.models.types import TEXT_LENGTH, UTCDateTime, utcnow


class PacingState(SQLModel, table=True):
    """One receiving domain or provider (`key`: "google", "microsoft", "yahoo" or the domain itself).

    rate: messages per second now, lowered by throttling (AIMD); None: the configured rate.
    next_slot_at: the next free sending slot at that rate, so several workers share one rate.
    throttled_until: no message to it before this (its queued rows are deferred in the ledger too).
    day / sent_on_day / first_day: the warm-up's count of today and the day it began."""

    __tablename__ = "pacing_state"

    key: str = Field(primary_key=True, max_length=255)
    rate: float | None = None
    next_slot_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    throttled_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    throttles: int = 0
    successes: int = 0
    last_reply: str | None = Field(default=None, max_length=TEXT_LENGTH)
    first_day: date | None = None
    day: date | None = None
    sent_on_day: int = 0
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)

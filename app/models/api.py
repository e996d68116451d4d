"""State the API contract keeps: idempotency records and the per-key rate-limit buckets."""

from datetime import datetime

from sqlalchemy import Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.models.types import UTCDateTime, utcnow


class IdempotencyRecord(SQLModel, table=True):
    """A POST made with an Idempotency-Key, and its response once there is one (kept 24 h)."""

    __tablename__ = "idempotency_record"
    __table_args__ = (UniqueConstraint("api_key_id", "key", name="uq_idempotency_key"),)

    id: int | None = Field(default=None, primary_key=True)
    api_key_id: int = Field(foreign_key="api_key.id", ondelete="CASCADE")
    key: str = Field(max_length=255)
    method: str = Field(max_length=10)
    path: str = Field(max_length=2000)
    request_hash: str = Field(max_length=64)
    status_code: int | None = Field(default=None, description="null while the first request is running")
    content_type: str | None = Field(default=None, max_length=200)
    body: str | None = Field(default=None, sa_type=Text)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False, index=True)


class RateBucket(SQLModel, table=True):
    """A token bucket per API key, shared by every process on PostgreSQL (SQLite keeps it in memory)."""

    __tablename__ = "rate_bucket"

    api_key_id: int = Field(primary_key=True, foreign_key="api_key.id", ondelete="CASCADE")
    tokens: float = 0.0
    updated: float = Field(default=0.0, description="unix time of the last refill")

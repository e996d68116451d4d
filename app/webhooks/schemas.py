"""Request and response shapes of webhooks out: endpoints, their deliveries and each delivery's attempts."""

from datetime import datetime
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, field_validator

EventType = Literal["bounce", "complaint", "unsubscribe", "campaign.completed", "campaign.paused"]
DeliveryState = Literal["pending", "delivered", "failed"]


def _check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an absolute http:// or https:// URL")
    return url


class WebhookCreate(BaseModel):
    url: str = Field(max_length=2000, examples=["https://cms.example.com/hooks/bulkmail"])
    events: list[EventType] = Field(min_length=1, examples=[["bounce", "unsubscribe"]])
    description: str = Field(default="", max_length=500)
    active: bool = True

    _url = field_validator("url")(_check_url)


class WebhookUpdate(BaseModel):
    url: str | None = Field(default=None, max_length=2000)
    events: list[EventType] | None = Field(default=None, min_length=1)
    description: str | None = Field(default=None, max_length=500)
    active: bool | None = None

    @field_validator("url")
    @classmethod
    def _url(cls, url: str | None) -> str | None:
        return None if url is None else _check_url(url)


class WebhookPublic(BaseModel):
    id: int
    url: str
    events: list[str]
    description: str
    active: bool
    created_at: datetime


class WebhookCreated(WebhookPublic):
    secret: str = Field(description="the HMAC-SHA256 key for X-Bulkmail-Signature; shown only in this response")


class AttemptPublic(BaseModel):
    at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int


class EventPublic(BaseModel):
    id: int
    type: str
    created_at: datetime
    data: dict


class WebhookDeliveryPublic(BaseModel):
    id: int
    webhook_id: int
    event_id: int
    event_type: str
    state: str = Field(description="pending | delivered | failed (gave up after the retry window)")
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    delivered_at: datetime | None
    created_at: datetime


class DeliveryDetail(WebhookDeliveryPublic):
    event: EventPublic = Field(description="the JSON body each attempt POSTs")
    attempt_log: list[AttemptPublic]

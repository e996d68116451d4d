"""The API's shapes for transactional messages (POST/GET /api/v1/messages)."""

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from app.models.types import EMAIL_LENGTH, NAME_LENGTH

MAX_ID = 2**31 - 1


class MessageCreate(BaseModel):
    """One message to one recipient: a saved template (`template_id`) rendered with `data`, or a `subject` with an
    `html` and/or `text` body (Jinja2, rendered with `data` too)."""

    model_config = ConfigDict(extra="forbid")

    to: str = Field(min_length=3, max_length=EMAIL_LENGTH, examples=["ann@example.org"])
    template_id: int | None = Field(default=None, ge=1, le=MAX_ID, description="a saved template of the library")
    data: dict[str, Any] = Field(
        default_factory=dict,
        description="the template's variables; a variable the template uses and data lacks is refused",
        examples=[{"reset_url": "https://shop.example/reset/abc", "name": "Ann"}],
    )
    subject: str | None = Field(default=None, max_length=998)
    html: str | None = None
    text: str | None = None
    identity_id: int | None = Field(
        default=None, ge=1, le=MAX_ID, description="the sending identity; none: the settings' sender"
    )
    from_address: str | None = Field(
        default=None, max_length=EMAIL_LENGTH, description="at the identity's From domain; none: noreply@ it"
    )
    from_name: str | None = Field(default=None, max_length=NAME_LENGTH)
    reply_to: str | None = Field(default=None, max_length=EMAIL_LENGTH)
    reference: str = Field(
        default="", max_length=NAME_LENGTH, description="your own reference, kept with the message (e.g. order-1234)"
    )


class MessagePublic(BaseModel):
    id: int = Field(description="the message's ledger row")
    to: str
    state: str = Field(description="queued | deferred | sent | failed | expired | cancelled | bounced")
    identity_id: int | None
    template_id: int | None
    reference: str
    api_key_id: int | None = Field(description="the API key that sent it")
    created_at: datetime
    sent_at: datetime | None
    attempts: int
    next_attempt_at: datetime | None = Field(description="when a deferred message is tried again")
    last_reply_code: int | None
    last_reply: str | None
    message_id: str | None = Field(description="the Message-ID header, once composed")

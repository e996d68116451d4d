"""The consent ledger: what a contact agreed to or withdrew, when, and through whom."""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index
from sqlmodel import Field, SQLModel

from app.models.types import LINE_LENGTH, NAME_LENGTH, UTCDateTime, utcnow


class ConsentEvent(SQLModel, table=True):
    """One row per change of a contact's consent or data. Append-only: the database refuses UPDATE and
    DELETE on this table (triggers made by the migration). It holds no e-mail address, so an erased
    contact's history proves what happened without naming them."""

    __tablename__ = "consent_event"
    __table_args__ = (Index("ix_consent_event_contact", "contact_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    # not a foreign key: the history outlives the contact row (a merge removes one)
    contact_id: int
    list_id: int | None = Field(default=None, description="the list concerned; none: every list")
    action: str = Field(max_length=20, description="subscribe | confirm | unsubscribe | import | cms | edit | erase")
    actor_kind: str = Field(
        max_length=20,
        description="form | api_key | user | mailed_command | one_click | unsubscribe_page | preference_page | import | system",
    )
    actor: str = Field(default="", max_length=NAME_LENGTH, description="which key, user, import or form")
    source: str = Field(default="", max_length=LINE_LENGTH, description="a file name, a campaign, a page")
    ip: str | None = Field(default=None, max_length=45)
    user_agent: str | None = Field(default=None, max_length=LINE_LENGTH)
    consent_text_version: str | None = Field(default=None, max_length=50)
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)

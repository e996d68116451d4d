"""The consent ledger: what a contact agreed to or withdrew, when, and through whom."""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.models.types import EMAIL_LENGTH, LINE_LENGTH, NAME_LENGTH, TEXT_LENGTH, UTCDateTime, utcnow


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


class SignupForm(SQLModel, table=True):
    """A list's signup settings: whether its hosted form is public, single or double opt-in, the custom
    fields the form asks for, and the confirmation and welcome mails (Jinja2 text templates)."""

    __tablename__ = "signup_form"

    list_id: int = Field(
        primary_key=True, foreign_key="mailing_list.id", ondelete="CASCADE", sa_column_kwargs={"autoincrement": False}
    )
    public: bool = Field(default=False, description="the hosted form and its snippet work (no sign-in)")
    double_opt_in: bool = True
    fields: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    confirm_subject: str = Field(default="", max_length=NAME_LENGTH)
    confirm_text: str = Field(default="", sa_type=Text)
    welcome_subject: str = Field(default="", max_length=NAME_LENGTH, description="empty: no welcome mail")
    welcome_text: str = Field(default="", sa_type=Text)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class ConsentText(SQLModel, table=True):
    """One version of a list's consent text. An edit adds a version; none is ever changed, so the version
    a consent ledger row names always reads as the person saw it."""

    __tablename__ = "consent_text"
    __table_args__ = (UniqueConstraint("list_id", "version", name="uq_consent_text_version"),)

    id: int | None = Field(default=None, primary_key=True)
    list_id: int = Field(foreign_key="mailing_list.id", ondelete="CASCADE")
    version: int
    text: str = Field(sa_type=Text)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class TransactionalMessage(SQLModel, table=True):
    """A mail bulkmail sends one person outside any campaign (a signup's confirmation, a welcome): the
    queue row, its attempts' outcome, and what the sweep ties a bounce of it to (its VERP token and
    Message-ID are made from the id)."""

    __tablename__ = "transactional_message"
    __table_args__ = (Index("ix_transactional_message_due", "state", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=20, description="confirm | welcome")
    list_id: int | None = Field(default=None, foreign_key="mailing_list.id", ondelete="SET NULL")
    contact_id: int = Field(foreign_key="contact.id", index=True, ondelete="CASCADE")
    email: str = Field(max_length=EMAIL_LENGTH)
    email_key: str = Field(max_length=EMAIL_LENGTH, index=True)
    state: str = Field(
        default="queued", max_length=20, description="queued | deferred | sent | failed | expired | bounced"
    )
    attempts: int = 0
    next_attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_reply: str = Field(default="", max_length=TEXT_LENGTH)
    message_id: str | None = Field(default=None, max_length=LINE_LENGTH)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class SignupRequest(SQLModel, table=True):
    """A signup the form or the API took and the background job has not yet carried out: the request that
    took it wrote only this row, the same for every address, so its answer time says nothing about the
    address. Deleted once carried out (seconds later), so it holds the person's data only that long."""

    __tablename__ = "signup_request"

    id: int | None = Field(default=None, primary_key=True)
    list_id: int  # not a foreign key: a list deleted meanwhile makes the request come to nothing
    email: str = Field(max_length=EMAIL_LENGTH)
    first_name: str = Field(default="", max_length=NAME_LENGTH)
    last_name: str = Field(default="", max_length=NAME_LENGTH)
    fields: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    consent_version: int | None = None
    public_only: bool = Field(default=True, description="the hosted form's fields only (false: a CMS, any field)")
    language: str | None = Field(default=None, max_length=16, description="the signup's language, for a new contact")
    actor_kind: str = Field(max_length=20)
    actor: str = Field(default="", max_length=NAME_LENGTH)
    ip: str | None = Field(default=None, max_length=45)
    user_agent: str | None = Field(default=None, max_length=LINE_LENGTH)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)

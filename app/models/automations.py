"""Automations: a trigger and ordered steps, and each contact's position in each automation.

A send step's messages go through the ledger: each send step owns one campaign (`campaign.automation_id`
set), and a contact's message of that step is a Delivery row of that campaign, so the unique
(campaign_id, email_key) of the ledger makes a second copy of a step impossible, whatever happens to the
position rows."""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.models.types import NAME_LENGTH, TEXT_LENGTH, UTCDateTime, partial_index, utcnow


class Automation(SQLModel, table=True):
    """A sequence: what starts it (the trigger and its target) and who its messages are from."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=NAME_LENGTH, unique=True)
    trigger: str = Field(
        max_length=20,
        description="list_joined | optin_confirmed | segment_entered | date_reached | event | campaign_sent",
    )
    list_id: int | None = Field(default=None, foreign_key="mailing_list.id", ondelete="SET NULL")
    segment_id: int | None = Field(default=None, foreign_key="segment.id", ondelete="SET NULL")
    field: str | None = Field(default=None, max_length=64, description="date_reached: the date field")
    event: str | None = Field(default=None, max_length=64, description="event: the name the CMS posts")
    # resend to non-openers: contacts who were sent this campaign enter when it was sent to them
    campaign_id: int | None = Field(default=None, foreign_key="campaign.id", ondelete="SET NULL")
    from_name: str = Field(default="", max_length=NAME_LENGTH)
    from_address: str = Field(max_length=320)
    state: str = Field(default="draft", max_length=20, description="draft | active | paused")
    activated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class AutomationStep(SQLModel, table=True):
    """One step; `position` orders an automation's steps. A send step's messages are ledger rows of its
    campaign (`campaign_id`, made when the step is)."""

    __tablename__ = "automation_step"
    __table_args__ = (Index("ix_automation_step_order", "automation_id", "position"),)

    id: int | None = Field(default=None, primary_key=True)
    automation_id: int = Field(foreign_key="automation.id", ondelete="CASCADE")
    position: int
    kind: str = Field(max_length=20, description="send | wait | branch | list_add | list_remove | webhook")
    options: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    campaign_id: int | None = Field(default=None, foreign_key="campaign.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class AutomationPosition(SQLModel, table=True):
    """Where one contact is in one automation: at most one row per contact and automation, so a contact
    enters an automation once. `step_id` is the step due at `due_at` (none once done or exited)."""

    __tablename__ = "automation_position"
    __table_args__ = (
        UniqueConstraint("automation_id", "contact_id", name="uq_automation_position_contact"),
        # the sweep's claim: an automation's active rows of one step, in due order from its cursor
        partial_index(
            "ix_automation_position_due", "automation_id", "step_id", "due_at", "id", where="state = 'active'"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    automation_id: int = Field(foreign_key="automation.id", ondelete="CASCADE")
    contact_id: int  # not a foreign key, as the ledger's: a per-row check on a million-row entry
    step_id: int | None = None
    state: str = Field(default="active", max_length=20, description="active | done | exited")
    due_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    entered_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    exit_reason: str | None = Field(default=None, max_length=TEXT_LENGTH)
    # the steps it went through: "STEP_ID@TIME;" each, appended by the UPDATE that moves it on (in the
    # transaction that carries the step out, under the row's lock: a step is done once or not at all)
    history: str = Field(default="", sa_type=Text, sa_column_kwargs={"server_default": ""})
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)

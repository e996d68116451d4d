"""Request and response shapes of automations, their steps and the dry run."""

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

Trigger = Literal["list_joined", "optin_confirmed", "segment_entered", "date_reached", "event", "campaign_sent"]
StepKind = Literal["send", "wait", "branch", "list_add", "list_remove", "webhook"]


class AutomationCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    trigger: Trigger = Field(
        description="list_joined (list_id), optin_confirmed (list_id), segment_entered (segment_id), date_reached "
        "(field: a date field equals today), event (event: posted to /api/v1/automations/events), campaign_sent "
        "(campaign_id: each recipient as the campaign was sent to them)"
    )
    list_id: int | None = None
    segment_id: int | None = None
    field: str | None = Field(default=None, max_length=64)
    event: str | None = Field(default=None, max_length=64)
    campaign_id: int | None = None
    from_name: str = Field(default="", max_length=200)
    from_address: str = Field(max_length=320)


class AutomationUpdate(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    trigger: Trigger | None = None
    list_id: int | None = None
    segment_id: int | None = None
    field: str | None = Field(default=None, max_length=64)
    event: str | None = Field(default=None, max_length=64)
    campaign_id: int | None = None
    from_name: str | None = Field(default=None, max_length=200)
    from_address: str | None = Field(default=None, max_length=320)
    state: Literal["draft", "active", "paused"] | None = Field(
        default=None, description="active: contacts meeting the trigger from now on enter and move on"
    )


class StepCreate(BaseModel):
    kind: StepKind
    options: dict[str, Any] = Field(
        default_factory=dict,
        description="send: template_id (or message_of: a campaign's id, its message again), subject (empty: the "
        "template's); wait: days, or hour (0-23) with weekday "
        "(0 Monday - 6 Sunday, none: any day) and zone; branch: on (opened | clicked: the message of the nearest "
        "send step before it; field with field and value; segment with segment_id) and else (a later step's id, "
        "or exit); list_add / list_remove: list_id; webhook: endpoint_id (an automation.step event, signed)",
    )


class StepUpdate(BaseModel):
    options: dict[str, Any] | None = None
    move: Literal["up", "down"] | None = Field(default=None, description="one place up or down in the order")


class StepPublic(BaseModel):
    id: int
    position: int
    kind: str
    options: dict[str, Any]
    campaign_id: int | None
    contacts_here: int = 0


class AutomationPublic(BaseModel):
    id: int
    name: str
    trigger: str
    list_id: int | None
    segment_id: int | None
    field: str | None
    event: str | None
    campaign_id: int | None
    from_name: str
    from_address: str
    state: str
    activated_at: datetime | None
    created_at: datetime
    updated_at: datetime
    steps: list[StepPublic] = []
    done: int = 0
    exited: int = 0


class DryRunRequest(BaseModel):
    email: str = Field(min_length=1, max_length=320, description="the contact's address")


class PlannedStep(BaseModel):
    step_id: int
    kind: str
    at: datetime | None = Field(description="when the step would run (none: not reached)")
    outcome: str = Field(description="what the step would do for this contact")


class DryRun(BaseModel):
    email: str
    enters: bool = Field(description="the contact is in the automation or its trigger would take them")
    note: str
    steps: list[PlannedStep]


class EventRequest(BaseModel):
    event: str = Field(min_length=1, max_length=64)
    email: str = Field(min_length=1, max_length=320)


class EventResult(BaseModel):
    entered: list[int] = Field(description="the automations the contact entered")


class ResendRequest(BaseModel):
    campaign_id: int
    days: int = Field(ge=0, le=3650, description="how long after the campaign reached them")
    subject: str = Field(min_length=1, max_length=998, description="the new subject")

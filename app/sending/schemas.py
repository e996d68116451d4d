"""Request and response shapes of campaigns and their ledger (the API's, and the compose form's check)."""

from datetime import datetime
from typing import Any, Literal

import pydantic
from pydantic import BaseModel, ValidationInfo, field_validator
from sqlmodel import Field, SQLModel

from app.sending.window import CLOCK, WindowInvalid, checked_zone

CampaignState = Literal["draft", "scheduled", "sending", "paused", "completed", "cancelled"]
TemplateLanguage = Literal["jinja", "mjml"]
DeliveryState = Literal["queued", "deferred", "waiting", "sent", "failed", "expired", "cancelled", "bounced"]
Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def _zone(value: str) -> str:
    try:
        return checked_zone("zone", value)
    except WindowInvalid as exc:
        raise ValueError(str(exc)) from None


class SendWindowIn(BaseModel):
    """When the campaign's messages may go out; a row due outside waits ("waiting") for the next opening."""

    days: list[Day] = pydantic.Field(min_length=1, description="the weekdays it may send on")
    start: str = pydantic.Field(pattern=CLOCK.pattern, description="HH:MM, the window opens")
    end: str = pydantic.Field(pattern=CLOCK.pattern, description="HH:MM, the window closes (later than start)")
    zone: str = pydantic.Field(default="UTC", description="the IANA time zone whose clock the hours are read on")

    @field_validator("end")
    @classmethod
    def _after_start(cls, value: str, info: ValidationInfo) -> str:
        start = info.data.get("start")
        if start is not None and value <= start:
            raise ValueError("must be later than the start")
        return value

    _zone = field_validator("zone")(_zone)


class LocalTimeIn(BaseModel):
    """Each recipient gets it at this time on their own clock (on one of the window's days, if any)."""

    at: str = pydantic.Field(pattern=CLOCK.pattern, description="HH:MM on the recipient's clock")
    zone_field: str = pydantic.Field(
        min_length=1, max_length=64, description="the contact field holding an IANA zone name"
    )
    default_zone: str = pydantic.Field(
        default="UTC", description="for contacts without a zone, or with a name that is none"
    )

    _zone = field_validator("default_zone")(_zone)


class CampaignBase(SQLModel):
    name: str = Field(min_length=1, max_length=200)
    from_name: str = Field(default="", max_length=200)
    from_address: str = Field(max_length=320)
    reply_to: str | None = Field(default=None, max_length=320)
    subject: str = Field(min_length=1, max_length=998, description="a Jinja2 template, like the bodies")
    html_template: str = ""
    text_template: str = ""
    list_ids: list[int] = Field(default_factory=list)
    segment_ids: list[int] = Field(
        default_factory=list, description="segments whose contacts it goes to, besides the lists' (evaluated at launch)"
    )
    exclude_list_ids: list[int] = Field(default_factory=list, description="lists whose members it does not go to")
    exclude_segment_ids: list[int] = Field(
        default_factory=list, description="segments whose contacts it does not go to (evaluated at launch)"
    )
    send_at: datetime | None = Field(default=None, description="launch sends at this time instead of at once")
    send_window: SendWindowIn | None = Field(default=None, description="days and hours it may send in; none: any time")
    local_time: LocalTimeIn | None = Field(default=None, description="at HH:MM on each recipient's clock")
    identity_id: int | None = Field(
        default=None, description="the sending identity (From domain, DKIM key, bounce address); none: the settings'"
    )
    relay_ids: list[int] = Field(
        default_factory=list,
        description="the relays it goes through, shared by weight; empty: its identity's, else all",
    )
    headers: dict[str, str] = Field(default_factory=dict, description="custom headers added to each message")
    template_language: TemplateLanguage = Field(
        default="jinja", description="jinja: the HTML body is Jinja2; mjml: MJML (Jinja2 inside), compiled once"
    )
    layout_id: int | None = Field(default=None, description="a saved layout whose {{ content }} the bodies fill")
    archived: bool = Field(
        default=False, description="shown on the public archive of its lists (those with the archive on)"
    )
    tracking: Literal["none", "anonymous", "contact"] | None = Field(
        default=None,
        description="opens and clicks: none, anonymous (counts only) or contact (per delivery); null: the"
        " settings' default, fixed on the campaign at launch",
    )


class CampaignCreate(CampaignBase):
    pass


class CampaignUpdate(SQLModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    from_name: str | None = Field(default=None, max_length=200)
    from_address: str | None = Field(default=None, max_length=320)
    reply_to: str | None = Field(default=None, max_length=320)
    subject: str | None = Field(default=None, min_length=1, max_length=998)
    html_template: str | None = None
    text_template: str | None = None
    list_ids: list[int] | None = None
    segment_ids: list[int] | None = None
    exclude_list_ids: list[int] | None = None
    exclude_segment_ids: list[int] | None = None
    send_at: datetime | None = None
    send_window: SendWindowIn | None = None
    local_time: LocalTimeIn | None = None
    identity_id: int | None = None
    relay_ids: list[int] | None = None
    headers: dict[str, str] | None = None
    template_language: TemplateLanguage | None = None
    layout_id: int | None = None
    archived: bool | None = None
    tracking: Literal["none", "anonymous", "contact"] | None = None


class ProgressPublic(BaseModel):
    counts: dict[str, int] = pydantic.Field(
        description="ledger rows per state: queued, waiting (for the sending window or the recipient's local"
        " time), deferred (for a retry), sent, failed, expired, cancelled, bounced"
    )
    total: int
    done: int
    percent: float
    rate_per_second: float
    eta_seconds: float | None


class CampaignPublic(CampaignBase):
    id: int
    state: str
    paused_reason: str | None
    relay_unreachable_since: datetime | None = Field(
        default=None, description="set while the relay cannot be reached; the campaign keeps sending and retries"
    )
    relay_next_try_at: datetime | None = Field(default=None, description="when the relay is tried next")
    relay_problem: str | None = Field(default=None, description="why the relay cannot be reached")
    guard_pause: dict[str, Any] | None = Field(
        default=None,
        description="set while the deliverability guard holds the campaign paused: metric (hard_bounces |"
        " complaints), window (24h | 7d), percent, count, out (messages in the window), threshold, at",
    )
    guard_override: bool = Field(
        default=False, description="resumed past the guard: its rates still warn but no longer pause it"
    )
    audience_counts: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    launched_at: datetime | None
    completed_at: datetime | None
    progress: ProgressPublic | None = None


class DuplicateRequest(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=200, description='default: "NAME (copy)"')


class CancelResult(BaseModel):
    campaign: CampaignPublic
    cancelled_deliveries: int


class TestSendRequest(BaseModel):
    to: list[str] = Field(description="addresses to send the test to")
    contact_id: int | None = Field(
        default=None, description="render for this contact (default: the first of the lists)"
    )


class TestSendItem(BaseModel):
    address: str
    ok: bool
    reply: str


class DeliveryPublic(SQLModel):
    id: int
    email: str
    state: str
    attempts: int
    next_attempt_at: datetime | None
    first_attempt_at: datetime | None
    last_attempt_at: datetime | None
    sent_at: datetime | None
    last_reply_code: int | None
    last_reply: str | None
    message_id: str | None
    bounced_at: datetime | None


GuardLevel = Literal["ok", "warn", "pause"]


class WindowRates(BaseModel):
    out: int = Field(description="messages out in the window: sent, bounced later or refused at once")
    hard_bounces: int = Field(description="hard bounces recorded in the window, one per address")
    complaints: int = Field(description="complaints (ARF reports) recorded in the window, one per address")
    hard_bounce_percent: float | None
    complaint_percent: float | None
    hard_bounce_level: GuardLevel = Field(description="ok, warn or pause against the thresholds")
    complaint_level: GuardLevel


class GuardThresholds(BaseModel):
    """In percent of the messages out in a window (the settings' guard_*_percent)."""

    complaint_warn: float
    complaint_pause: float
    bounce_warn: float
    bounce_pause: float
    min_messages: int = Field(description="messages out in a window before its rates are judged")


class UnsubscribeCompliancePublic(BaseModel):
    unsubscribes: int = Field(description="addresses that unsubscribed through this campaign")
    mailed_after: int = Field(description="of them, addresses that got a message afterwards")
    violations: int = Field(description="of them, a message more than 48 hours afterwards (must be 0)")
    longest_seconds: float = Field(
        description="the longest time from an unsubscribe to the last message it let through"
    )


class DeliverabilityPublic(BaseModel):
    windows: dict[str, WindowRates] = Field(description='"24h" and "7d"')
    thresholds: GuardThresholds
    unsubscribes: UnsubscribeCompliancePublic


class VariantPublic(BaseModel):
    number: int
    subject: str | None = None
    from_name: str | None = None
    html_template: str | None = None
    text_template: str | None = None
    sent: int
    opened: int
    clicked: int
    bounced: int
    rate: float


class AbTestPublic(BaseModel):
    """A campaign's A/B test: its settings, what it compares, the winner, each variant's figures and the
    two-proportion z-test of the leader against the runner-up (`significant` at 95 %, `note` in words)."""

    ab_test: dict[str, Any] | None
    compared_by: str
    winner: int | None
    variants: list[VariantPublic]
    z: float | None
    significant: bool
    note: str

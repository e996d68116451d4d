"""Request and response shapes of the signup API."""

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from app.subscription.forms import CONSENT_MAX, TEMPLATE_MAX


class ConsentTextPublic(BaseModel):
    version: int
    text: str
    created_at: datetime


class SignupSettingsPublic(BaseModel):
    list_id: int
    public: bool = Field(description="the hosted form (and the snippet posting to it) works without sign-in")
    double_opt_in: bool = Field(description="a confirmation mail first; the member is unconfirmed until its link")
    fields: list[str] = Field(description="the custom fields the form asks for, by name")
    consent_text: ConsentTextPublic | None = Field(description="the newest version; none: the list has no text")
    confirm_subject: str = Field(description="empty: the default")
    confirm_text: str = Field(description="empty: the default; a Jinja2 text template with {{ confirm_url }}")
    welcome_subject: str = Field(description="empty: no welcome mail")
    welcome_text: str
    form_url: str = Field(description="the hosted form")
    snippet: str = Field(description="an HTML form to put in another site; it posts to the hosted form")
    unconfirmed: int = Field(description="members waiting for their confirmation")
    updated_at: datetime


class SignupSettingsUpdate(BaseModel):
    """What to change; a field left out keeps its value. A consent text that differs from the newest
    version becomes a new version."""

    public: bool | None = None
    double_opt_in: bool | None = None
    fields: list[str] | None = Field(default=None, max_length=200)
    consent_text: str | None = Field(default=None, max_length=CONSENT_MAX)
    confirm_subject: str | None = Field(default=None, max_length=200)
    confirm_text: str | None = Field(default=None, max_length=TEMPLATE_MAX)
    welcome_subject: str | None = Field(default=None, max_length=200)
    welcome_text: str | None = Field(default=None, max_length=TEMPLATE_MAX)


class SubscribeRequest(BaseModel):
    """A signup a CMS received on its own form. `ip` and `user_agent` are the person's, for the consent
    ledger (the request's own client is the CMS)."""

    email: str = Field(min_length=1, max_length=320)
    first_name: str = Field(default="", max_length=200)
    last_name: str = Field(default="", max_length=200)
    fields: dict[str, Any] = Field(default_factory=dict, description="custom field values by name")
    consent_text_version: int | None = Field(default=None, ge=1, le=2**31 - 1, description="the version shown")
    ip: str | None = Field(default=None, max_length=45)
    user_agent: str | None = Field(default=None, max_length=300)
    language: Literal["en", "de"] | None = Field(
        default=None, description="the language the person signed up in: a new contact's mails and pages speak it"
    )


class SubscribeAccepted(BaseModel):
    status: Literal["accepted"] = Field(
        description="always `accepted` for an address that was taken: the answer never tells whether it was "
        "known, subscribed already or suppressed"
    )

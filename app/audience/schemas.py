"""Request and response shapes of the audience API."""

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

SuppressionReason = Literal["unsubscribed", "bounced", "complained", "manual"]
# what a list of suppressions may be filtered by: also `erased` (made by an erasure only, never by hand)
SuppressionReasonFilter = Literal["unsubscribed", "bounced", "complained", "manual", "erased"]
MAX_UPSERT = 10_000


ARCHIVE = "its public archive (/archive/ID) shows the campaigns to it marked for the archive"


class ListCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=2000)
    archive: bool = Field(default=False, description=ARCHIVE)


class ListUpdate(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    archive: bool | None = Field(default=None, description=ARCHIVE)


class ListPublic(BaseModel):
    id: int
    name: str
    description: str
    archive: bool = Field(default=False, description=ARCHIVE)
    created_at: datetime
    member_count: int


class ImportPublic(BaseModel):
    id: int
    list_id: int
    filename: str
    format: str
    state: str = Field(description="queued | running | done | failed")
    size_bytes: int
    bytes_read: int
    progress: float = Field(description="0.0 to 1.0, by bytes read")
    rows_read: int
    added: int
    updated: int
    duplicates: int = Field(description="addresses met again inside the same file")
    invalid: int = Field(description="rejected rows and addresses; see rejects")
    suppressed: int = Field(description="imported addresses that are suppressed and will not be mailed")
    error: str | None = Field(description="why the whole import failed, when it did")
    column_mapping: dict[str, Any]
    created_at: datetime
    finished_at: datetime | None
    rejects_csv: str = Field(description="URL of the rejected rows as CSV")


class RejectPublic(BaseModel):
    line: int
    column: int | None
    value: str
    reason: str


class ContactIn(BaseModel):
    external_id: str = Field(min_length=1, max_length=200, description="the CMS's user id")
    email: str = Field(max_length=320)
    first_name: str | None = Field(default=None, max_length=200)
    last_name: str | None = Field(default=None, max_length=200)
    attributes: dict[str, Any] = Field(default_factory=dict)


class ContactsUpsert(BaseModel):
    list_id: int | None = Field(default=None, description="also add every user to this list")
    contacts: list[ContactIn] = Field(min_length=1, max_length=MAX_UPSERT)


class ContactResult(BaseModel):
    index: int
    external_id: str
    status: str = Field(description="added | updated | unchanged | invalid | conflict | erased")
    contact_id: int | None = None
    field: str | None = None
    error: str | None = None


class ContactsUpsertResult(BaseModel):
    added: int = Field(description="contacts created by this push")
    updated: int = Field(description="contacts whose address, name or attributes changed")
    unchanged: int = Field(description="contacts already exactly as pushed")
    rejected: int = Field(description="entries not stored; `results` names the field and the problem of each")
    results: list[ContactResult]


class SuppressionCreate(BaseModel):
    email: str = Field(max_length=320)
    reason: SuppressionReason = "manual"
    note: str = Field(default="", max_length=2000)
    source: str = Field(default="api", max_length=200)


class SuppressionUpdate(BaseModel):
    reason: SuppressionReason | None = None
    note: str | None = Field(default=None, max_length=2000)


class SuppressionPublic(BaseModel):
    id: int
    email: str
    email_key: str
    reason: str
    source: str
    note: str
    campaign_id: int | None
    list_id: int | None = Field(
        default=None, description="the one list the address unsubscribed from; none: suppressed from every list"
    )
    created_at: datetime


class AudienceRequest(BaseModel):
    list_ids: list[int] = Field(default_factory=list)
    segment_ids: list[int] = Field(default_factory=list, description="their contacts are in too")
    exclude_list_ids: list[int] = Field(default_factory=list, description="their members are left out")
    exclude_segment_ids: list[int] = Field(default_factory=list, description="their contacts are left out")

    @model_validator(mode="after")
    def _some_source(self) -> "AudienceRequest":
        if not (self.list_ids or self.segment_ids):
            raise ValueError("name at least one list (list_ids) or segment (segment_ids)")
        return self


class AudienceCounts(BaseModel):
    sources: dict[str, int] = Field(description="memberships per chosen list")
    segments: dict[str, int] = Field(default_factory=dict, description="contacts per chosen segment")
    candidates: int
    duplicates: int
    excluded: dict[str, int] = Field(
        description="per reason, in the order they are decided: unconfirmed (a signup not yet confirmed), "
        "unsubscribed (from every list), unsubscribed_list (left each chosen list it is subscribed to), bounced, "
        "complained, manual; with segments or exclusions also excluded_list, excluded_segment"
    )
    unsubscribed_by_list: dict[str, int] = Field(
        default_factory=dict, description="per chosen list: its members that unsubscribed from that list"
    )
    excluded_by_list: dict[str, int] = Field(
        default_factory=dict,
        description="per excluded list: the candidates it leaves out that no suppression or the bounce policy did "
        "(a contact on two excluded lists, or also in an excluded segment, counts in each)",
    )
    excluded_by_segment: dict[str, int] = Field(
        default_factory=dict, description="per excluded segment: the same, for the contacts of that segment"
    )
    included: int
    needs_smtputf8: int = Field(
        default=0,
        description="of the included, addresses whose part before the @ is not ASCII: they need a relay that "
        "offers SMTPUTF8, and fail with that reason otherwise",
    )


class MembershipPublic(BaseModel):
    list_id: int
    list_name: str
    source: str
    import_id: int | None
    import_filename: str | None
    added_at: datetime
    status: str = Field(default="subscribed", description="subscribed | unconfirmed (a signup not yet confirmed)")

    def describe(self) -> str:
        via = self.source
        if self.import_id is not None:
            via += f" import {self.import_id}" + (f" ({self.import_filename})" if self.import_filename else "")
        return f'list "{self.list_name}" via {via}, added {self.added_at:%Y-%m-%d}'


class VerdictPublic(BaseModel):
    address: str
    email_key: str | None
    included: bool
    reason: str = Field(
        description="included | invalid | not_a_contact | not_in_lists | unconfirmed | unsubscribed | bounced | "
        "complained | manual"
    )
    detail: str
    memberships: list[MembershipPublic]


ContactStatus = Literal["active", "suppressed", "unsubscribed", "bounced", "complained", "manual"]


class ContactPublic(BaseModel):
    id: int
    email: str = Field(description="empty once the contact was erased")
    first_name: str | None
    last_name: str | None
    attributes: dict[str, Any]
    external_id: str | None
    is_role: bool
    language: str | None = Field(description="the language of the contact's subscriber pages (en, de); null: unset")
    status: str = Field(description="active, or the reason its address is suppressed; erased")
    created_at: datetime
    updated_at: datetime


class ContactUpdate(BaseModel):
    first_name: str | None = Field(default=None, max_length=200)
    last_name: str | None = Field(default=None, max_length=200)
    language: str | None = Field(
        default=None, max_length=16, description="the subscriber pages' language: en or de; an empty string unsets it"
    )
    attributes: dict[str, Any] | None = Field(
        default=None, description="laid over the stored attributes; a null or empty value removes that attribute"
    )


class ConsentEventPublic(BaseModel):
    id: int
    at: datetime
    action: str = Field(description="subscribe | confirm | unsubscribe | import | cms | edit | erase")
    list_id: int | None = Field(description="the list concerned; null: every list")
    actor_kind: str
    actor: str
    source: str
    ip: str | None
    user_agent: str | None
    consent_text_version: str | None
    detail: dict[str, Any]


class ContactDeliveryPublic(BaseModel):
    id: int
    campaign_id: int
    campaign_name: str | None
    state: str
    attempts: int
    sent_at: datetime | None
    last_reply_code: int | None
    last_reply: str | None
    bounced_at: datetime | None


class ContactBouncePublic(BaseModel):
    id: int
    kind: str
    reason: str
    hard: bool
    status: str
    diagnostic: str
    campaign_id: int | None
    created_at: datetime


class ContactExport(BaseModel):
    """Everything bulkmail holds about one person."""

    exported_at: datetime
    contact: ContactPublic
    lists: list[MembershipPublic]
    consent: list[ConsentEventPublic]
    deliveries: list[ContactDeliveryPublic]
    bounces: list[ContactBouncePublic]
    suppressions: list[SuppressionPublic]


CustomFieldType = Literal["text", "number", "date", "boolean", "choice"]


class CustomFieldCreate(BaseModel):
    name: str = Field(min_length=1, max_length=64, description="identifier used in templates: {{ name }}")
    label: str = Field(min_length=1, max_length=200)
    type: CustomFieldType
    choices: list[str] = Field(default_factory=list, max_length=200, description="the options of a choice field")
    required: bool = False
    subscriber_editable: bool = Field(default=False, description="the contact may change it on the preference page")


class CustomFieldUpdate(BaseModel):
    label: str | None = Field(default=None, min_length=1, max_length=200)
    choices: list[str] | None = Field(default=None, max_length=200)
    required: bool | None = None
    subscriber_editable: bool | None = None


class CustomFieldPublic(BaseModel):
    id: int
    name: str
    label: str
    type: str
    choices: list[str]
    required: bool
    subscriber_editable: bool
    created_at: datetime

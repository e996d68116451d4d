"""Contacts, lists, imports and suppressions."""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, Text, text
from sqlmodel import Field, SQLModel

from app.models.types import EMAIL_LENGTH, NAME_LENGTH, TEXT_LENGTH, UTCDateTime, partial_index, utcnow

# an address whose local part is not ASCII (domains are stored in ASCII form): more bytes than characters
NOT_ASCII = {
    "sqlite": "length(CAST(email AS BLOB)) - length(email) > 0",
    "postgresql": "octet_length(email) - length(email) > 0",
}


class Contact(SQLModel, table=True):
    """One row per normalised address."""

    __table_args__ = (
        # contacts from files have no CMS id: kept out of the index, an import writes one index entry less a row
        partial_index("uq_contact_external_id", "external_id", where="external_id IS NOT NULL", unique=True),
        # the few that need SMTPUTF8: compile counts those of a send from here (migration 0013)
        Index(
            "ix_contact_not_ascii",
            "id",
            sqlite_where=text(NOT_ASCII["sqlite"]),
            postgresql_where=text(NOT_ASCII["postgresql"]),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=EMAIL_LENGTH, description="address as normalised for sending")
    email_key: str = Field(max_length=EMAIL_LENGTH, unique=True, description="dedupe key: see app.addresses")
    first_name: str | None = Field(default=None, max_length=NAME_LENGTH)
    last_name: str | None = Field(default=None, max_length=NAME_LENGTH)
    attributes: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    external_id: str | None = Field(default=None, max_length=200, description="CMS user id")
    is_role: bool = Field(default=False, description="role address such as postmaster@ (flagged, not dropped)")
    language: str | None = Field(default=None, max_length=16, description="subscriber pages' language (en, de)")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class ContactSearch(SQLModel, table=True):
    """The text a contact is found by (address, names, attribute values, lower case), one row per contact.

    Searched by substring through a trigram index beside it, which the migration creates per database
    (PostgreSQL: pg_trgm GIN on `body`; SQLite: an FTS5 trigram table kept in step by triggers);
    written by app.audience.search only."""

    __tablename__ = "contact_search"

    contact_id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    body: str = Field(sa_type=Text)


class CustomField(SQLModel, table=True):
    """A contact field defined for this installation: contacts keep its value in `attributes` under
    `name`, templates use it as `{{ name }}`."""

    __tablename__ = "custom_field"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64, unique=True, description="identifier: letters, digits, _")
    label: str = Field(max_length=NAME_LENGTH)
    type: str = Field(max_length=10, description="text | number | date | boolean | choice")
    choices: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    required: bool = False
    subscriber_editable: bool = Field(default=False, description="the contact may change it on the preference page")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class MailingList(SQLModel, table=True):
    __tablename__ = "mailing_list"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=NAME_LENGTH, unique=True)
    description: str = Field(default="", max_length=TEXT_LENGTH)
    # its public archive (/archive/ID) shows the campaigns to it that are marked for the archive
    archive: bool = False
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class ListMember(SQLModel, table=True):
    """A contact in a list. No foreign keys: their per-row check (PostgreSQL locks the contact and the
    list for each row) was most of a big import's time. Deleting a contact or a list deletes its
    memberships by a trigger (migration 0009), as ON DELETE CASCADE did; the importer locks the list
    once a commit instead. `import_id` only names the import that last brought the address (its
    duplicates-in-the-file check), so an import job's row is never needed for it."""

    __tablename__ = "list_member"
    __table_args__ = (
        Index("ix_list_member_contact", "contact_id"),
        # the few memberships still waiting for their confirmation: compile and the purge read only these
        partial_index("ix_list_member_unconfirmed", "list_id", "contact_id", where="status = 'unconfirmed'"),
    )

    list_id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    contact_id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    source: str = Field(max_length=20, description="csv | vcard | text | cms | api | form | preferences")
    status: str = Field(
        default="subscribed",
        max_length=20,
        description="subscribed | unconfirmed (a double opt-in signup waiting for its confirmation)",
        sa_column_kwargs={"server_default": "subscribed"},
    )
    import_id: int | None = None
    added_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class ImportJob(SQLModel, table=True):
    __tablename__ = "import_job"

    id: int | None = Field(default=None, primary_key=True)
    list_id: int = Field(foreign_key="mailing_list.id", index=True, ondelete="CASCADE")
    filename: str = Field(max_length=500)
    format: str = Field(
        max_length=20, description="auto until read; then csv | outlook | google | dynamics | vcard | text"
    )
    state: str = Field(default="queued", max_length=20, description="queued | running | done | failed")
    stored_path: str | None = Field(default=None, max_length=1000, description="upload kept until processed")
    size_bytes: int = 0
    bytes_read: int = 0
    column_mapping: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    rows_read: int = 0
    added: int = 0
    updated: int = 0
    duplicates: int = 0
    invalid: int = 0
    suppressed: int = 0
    error: str | None = Field(default=None, max_length=TEXT_LENGTH)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    heartbeat_at: datetime | None = Field(
        default=None, sa_type=UTCDateTime, description="set by the process running it; a stale one can be resumed"
    )
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    language: str | None = Field(
        default=None, max_length=16, description="its reject reasons' language: the page's that started it; unset: en"
    )


class ImportReject(SQLModel, table=True):
    """A row an import could not take, with where it was and why."""

    __tablename__ = "import_reject"

    id: int | None = Field(default=None, primary_key=True)
    import_id: int = Field(foreign_key="import_job.id", index=True, ondelete="CASCADE")
    line: int
    column: int | None = None
    value: str = Field(default="", max_length=TEXT_LENGTH)
    reason: str = Field(max_length=500)


def _where(clause: str) -> dict[str, Any]:
    return {"sqlite_where": text(clause), "postgresql_where": text(clause)}


class Suppression(SQLModel, table=True):
    """An address that must not be mailed (list_id none), or not on one list (list_id set: the person
    unsubscribed from that list only), and why. One row per address and scope."""

    __table_args__ = (
        # one row from every list per address; one per address and list (the index every lookup by address uses)
        Index("uq_suppression_email_key", "email_key", unique=True, **_where("list_id IS NULL")),
        Index("uq_suppression_email_key_list", "email_key", "list_id", unique=True),
        # "did anyone leave these lists": compile's probe, and a list's deletion
        Index("ix_suppression_list", "list_id", **_where("list_id IS NOT NULL")),
        # a campaign's unsubscribes, for its compliance report
        Index("ix_suppression_campaign", "campaign_id", "created_at", **_where("campaign_id IS NOT NULL")),
    )

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=EMAIL_LENGTH)
    email_key: str = Field(max_length=EMAIL_LENGTH)
    reason: str = Field(max_length=20, index=True, description="unsubscribed | bounced | complained | manual")
    source: str = Field(default="", max_length=NAME_LENGTH, description="what made it: api, one-click, sweep 12, ...")
    note: str = Field(default="", max_length=TEXT_LENGTH)
    campaign_id: int | None = Field(default=None, foreign_key="campaign.id", ondelete="SET NULL")
    delivery_id: int | None = Field(default=None, foreign_key="delivery.id", ondelete="SET NULL")
    list_id: int | None = Field(
        default=None, foreign_key="mailing_list.id", ondelete="CASCADE", description="none: every list"
    )
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)

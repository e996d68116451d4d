"""Column types shared by the tables."""

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Index, text
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps are always aware UTC in Python; SQLite stores them naive, PostgreSQL as timestamptz."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use aware UTC")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


JSONType = JSON().with_variant(JSON(none_as_null=True), "postgresql")

# Column sizes that writers cut text to, named once so a model and the code filling it agree.
EMAIL_LENGTH = 320  # an address as stored (RFC 5321 allows 254; room for what a report names)
TEXT_LENGTH = 2000  # free text kept: a relay's reply, a diagnostic, an error, a reason to show
LINE_LENGTH = 300  # one header's worth: a remote MTA, a Message-ID, a process owner
NAME_LENGTH = 200  # a name or a short label (list, person, mailbox uid, evidence)
MAX_ID = 2**31 - 1  # the largest id an integer key column holds


def partial_index(name: str, *columns: str, where: str, unique: bool = False) -> Index:
    """An index over only the rows WHERE holds, on SQLite and PostgreSQL alike (both support partial indexes)."""
    condition = text(where)
    return Index(name, *columns, unique=unique, sqlite_where=condition, postgresql_where=condition)

"""Process-wide state kept in the database so every process on every machine shares it."""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from app.models.types import UTCDateTime, utcnow


class StoredSetting(SQLModel, table=True):
    """Settings changed at run time (web settings page) and the generated secret key."""

    __tablename__ = "stored_setting"

    key: str = Field(primary_key=True, max_length=100)
    value: Any = Field(default=None, sa_column=Column(JSON))
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class JobLock(SQLModel, table=True):
    """A named lease, so one job (the sweep) runs at a time across processes on SQLite."""

    __tablename__ = "job_lock"

    name: str = Field(primary_key=True, max_length=100)
    holder: str = Field(max_length=100)
    expires_at: datetime = Field(sa_type=UTCDateTime)

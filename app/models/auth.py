"""Web users and API keys."""

from datetime import datetime

from sqlmodel import Field, SQLModel

from app.models.types import NAME_LENGTH, UTCDateTime, utcnow


class User(SQLModel, table=True):
    __tablename__ = "web_user"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=320, unique=True)
    password_hash: str = Field(max_length=200, description="argon2")
    is_admin: bool = False
    failed_logins: int = 0
    locked_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class ApiKey(SQLModel, table=True):
    __tablename__ = "api_key"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=NAME_LENGTH)
    prefix: str = Field(max_length=16, description="first characters, shown so a key can be recognised")
    key_hash: str = Field(max_length=64, unique=True, description="SHA-256 of the key; the key itself is never kept")
    scope: str = Field(default="read", max_length=10, description="read | write")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)

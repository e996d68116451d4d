"""Web users, their sessions, invitations, second factors and roles; API keys; the audit log."""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.models.types import EMAIL_LENGTH, NAME_LENGTH, UTCDateTime, utcnow


class User(SQLModel, table=True):
    __tablename__ = "web_user"
    __table_args__ = (UniqueConstraint("oidc_issuer", "oidc_subject", name="uq_web_user_oidc"),)

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=320, unique=True)
    password_hash: str = Field(
        max_length=200,
        description="argon2; NO_PASSWORD (app/users/accounts.py): signs in through the identity provider only",
    )
    role: str = Field(default="viewer", max_length=20, description="admin | marketer | viewer")
    deactivated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    totp_secret: str | None = Field(
        default=None,
        max_length=255,
        description="the base32 seed, sealed (app/sealed.py); set once enrolment is confirmed",
    )
    totp_last_step: int | None = Field(default=None, description="the last TOTP time step used: a code works once")
    failed_logins: int = 0
    locked_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    language: str | None = Field(default=None, max_length=16, description="pages' language; unset: the browser's")
    time_zone: str | None = Field(
        default=None, max_length=64, description="IANA zone schedules are shown in; unset: UTC"
    )
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    oidc_issuer: str | None = Field(default=None, max_length=255, description="the identity provider it signed in with")
    oidc_subject: str | None = Field(default=None, max_length=255, description="its `sub` there: who it is, for good")


class WebSession(SQLModel, table=True):
    """A signed-in browser. The cookie holds a random token; only its hash is here. Deleting the row
    signs the browser out at its next request."""

    __tablename__ = "web_session"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    user_id: int = Field(foreign_key="web_user.id", index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    expires_at: datetime = Field(sa_type=UTCDateTime, nullable=False)


class UserInvite(SQLModel, table=True):
    """A one-time link by mail; the invitee chooses a password. Only the token's hash is kept."""

    __tablename__ = "user_invite"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=EMAIL_LENGTH)
    role: str = Field(max_length=20)
    token_hash: str = Field(max_length=64, unique=True)
    invited_by: int | None = Field(default=None, foreign_key="web_user.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    expires_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    user_id: int | None = Field(default=None, foreign_key="web_user.id", description="the user it made")
    language: str | None = Field(
        default=None, max_length=16, description="its mail's and page's language, and the user's; unset: the browser's"
    )


class RecoveryCode(SQLModel, table=True):
    """Second-factor recovery codes, each usable once; shown once at enrolment, kept as SHA-256."""

    __tablename__ = "recovery_code"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="web_user.id", index=True)
    code_hash: str = Field(max_length=64)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class RolePolicy(SQLModel, table=True):
    """Per role: whether its users must sign in with a second factor."""

    __tablename__ = "role_policy"

    role: str = Field(primary_key=True, max_length=20)
    require_totp: bool = False


class AuditEntry(SQLModel, table=True):
    """One state-changing action: who (a user or an API key), when, what, on which object. Never a
    request body, so never a secret."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_object", "object_type", "object_id"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    actor_kind: str = Field(max_length=10, description="user | api_key | anonymous | cli")
    actor_id: int | None = None
    actor: str = Field(
        default="", max_length=EMAIL_LENGTH, description="the user's address, the key's prefix or cli:USER@HOST"
    )
    action: str = Field(max_length=NAME_LENGTH, description="e.g. lists.rename")
    route: str = Field(max_length=NAME_LENGTH, description="method and path template, e.g. POST /lists/{list_id}")
    object_type: str | None = Field(default=None, max_length=50)
    object_id: str | None = Field(default=None, max_length=50)
    status: int = 0
    detail: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))


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

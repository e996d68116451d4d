"""Relays a campaign may send through, and the sending identities (From domain, DKIM key, bounce address)
that say who a campaign is from. Secrets (a relay's password, an identity's DKIM private key) are sealed
with app.sealed and never leave the service."""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Text
from sqlmodel import Field, SQLModel

from app.models.types import EMAIL_LENGTH, LINE_LENGTH, NAME_LENGTH, TEXT_LENGTH, UTCDateTime, utcnow


class Relay(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=NAME_LENGTH, unique=True)
    host: str = Field(max_length=LINE_LENGTH)
    port: int = 587
    security: str = Field(default="starttls", max_length=20, description="starttls | tls | none")
    username: str | None = Field(default=None, max_length=LINE_LENGTH)
    password_sealed: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    connections: int = 4
    rate: float = Field(default=0.0, description="messages per second, 0 = unlimited")
    weight: int = Field(default=1, description="its share of a pool's messages against the other relays' weights")
    enabled: bool = True
    # written by the sending workers: since when it cannot be reached, and why (in words, never an exception)
    down_since: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_error: str | None = Field(default=None, max_length=TEXT_LENGTH)
    last_ok_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class SendingIdentity(SQLModel, table=True):
    __tablename__ = "sending_identity"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=NAME_LENGTH, unique=True)
    from_domain: str = Field(max_length=LINE_LENGTH)
    from_name: str = Field(default="", max_length=NAME_LENGTH)
    reply_to: str | None = Field(default=None, max_length=EMAIL_LENGTH)
    bounce_address: str = Field(max_length=EMAIL_LENGTH, description="envelope sender; VERP tokens go after a +")
    relay_ids: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    dkim_selector: str = Field(max_length=63)
    dkim_private_key_sealed: str = Field(sa_column=Column(Text, nullable=False))
    dkim_public_key: str = Field(sa_column=Column(Text, nullable=False), description="base64 DER, the p= of the record")
    headers: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)

"""Request and response shapes of relays (the API's and the relay page's). The password is write-only."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, field_validator

Security = Literal["starttls", "tls", "none"]
RelayState = Literal["up", "down", "unknown", "disabled"]


def _host(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if not value or any(c.isspace() for c in value) or "/" in value:
        raise ValueError("must be a host name or an IP address")
    return value


class RelayCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    host: str = Field(max_length=300)
    port: int = Field(default=587, ge=1, le=65535)
    security: Security = "starttls"
    username: str | None = Field(default=None, max_length=300)
    password: str | None = Field(default=None, max_length=1000, description="write-only; never returned")
    connections: int = Field(default=4, ge=1, le=64)
    rate: float = Field(default=0.0, ge=0, description="messages per second, 0 = unlimited")
    weight: int = Field(default=1, ge=1, le=1000, description="its share of the messages against the others")
    enabled: bool = True

    _host = field_validator("host")(_host)


class RelayUpdate(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    host: str | None = Field(default=None, max_length=300)
    port: int | None = Field(default=None, ge=1, le=65535)
    security: Security | None = None
    username: str | None = Field(default=None, max_length=300, description='"" removes it')
    password: str | None = Field(default=None, max_length=1000, description='write-only; "" removes it')
    connections: int | None = Field(default=None, ge=1, le=64)
    rate: float | None = Field(default=None, ge=0)
    weight: int | None = Field(default=None, ge=1, le=1000)
    enabled: bool | None = None

    _host = field_validator("host")(_host)


class RelayPublic(BaseModel):
    id: int
    name: str
    host: str
    port: int
    security: Security
    username: str | None
    has_password: bool
    connections: int
    rate: float
    weight: int
    enabled: bool
    state: RelayState = Field(description="up: it took the last message; down: it cannot be reached or refuses")
    down_since: datetime | None
    last_error: str | None = Field(description="why it is down, in words (never a password)")
    last_ok_at: datetime | None
    created_at: datetime
    updated_at: datetime

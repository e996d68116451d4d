"""Request and response shapes of sending identities (the API's and the identity page's)."""

import re
from datetime import datetime

from pydantic import BaseModel, Field, field_validator

_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


def check_domain(value: str) -> str:
    value = value.strip().lower().rstrip(".")
    if not _DOMAIN.match(value):
        raise ValueError("must be a domain name such as news.example.com")
    return value


def check_selector(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip().lower()
    if not _LABEL.match(value):
        raise ValueError("must be one DNS label: letters, digits and dashes, such as bm2026")
    return value


class IdentityBase(BaseModel):
    from_name: str = Field(default="", max_length=200, description="used when a campaign gives none")
    reply_to: str | None = Field(default=None, max_length=320, description="used when a campaign gives none")
    relay_ids: list[int] = Field(default_factory=list, description="the relays it sends through; empty: every relay")
    headers: dict[str, str] = Field(default_factory=dict, description="custom headers added to each message")


class IdentityCreate(IdentityBase):
    name: str = Field(min_length=1, max_length=200)
    from_domain: str = Field(max_length=253, description="the domain of the From address; DKIM signs as d=")
    bounce_address: str | None = Field(
        default=None, max_length=320, description="envelope sender (VERP: local+token@domain); default noreply@"
    )
    dkim_selector: str | None = Field(default=None, max_length=63, description="default: bm + year and month")

    _domain = field_validator("from_domain")(check_domain)
    _selector = field_validator("dkim_selector")(check_selector)


class IdentityUpdate(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    from_domain: str | None = Field(default=None, max_length=253)
    from_name: str | None = Field(default=None, max_length=200)
    reply_to: str | None = Field(default=None, max_length=320)
    bounce_address: str | None = Field(default=None, max_length=320)
    relay_ids: list[int] | None = None
    headers: dict[str, str] | None = None
    new_dkim_key: bool = Field(default=False, description="generate a new key (publish its record before use)")
    dkim_selector: str | None = Field(default=None, max_length=63, description="with new_dkim_key: its selector")

    @field_validator("from_domain")
    @classmethod
    def _domain(cls, value: str | None) -> str | None:
        return None if value is None else check_domain(value)

    _selector = field_validator("dkim_selector")(check_selector)


class DnsRecord(BaseModel):
    name: str = Field(examples=["bm202612._domainkey.news.example.com"])
    type: str = Field(examples=["TXT"])
    value: str = Field(examples=["v=DKIM1; k=rsa; p=MIIBIjANBgkqh…"])


class IdentityPublic(IdentityBase):
    id: int
    name: str
    from_domain: str
    bounce_address: str
    dkim_selector: str
    dkim_public_key: str = Field(description="base64 DER; the private key never leaves bulkmail")
    dkim_record: DnsRecord = Field(description="publish this TXT record so receivers can check the signature")
    created_at: datetime
    updated_at: datetime

"""API keys: shown once when created, stored only as a SHA-256 hash, scoped read or write."""

import hashlib
import secrets
from datetime import timedelta
from typing import Literal

from sqlmodel import Session, select

from app.models import ApiKey, utcnow

Scope = Literal["read", "write"]
_PREFIX = "bm_"
# Recording every use would turn each API read into a write; a minute's precision is enough.
_LAST_USED_PRECISION = timedelta(minutes=1)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_api_key(session: Session, name: str, scope: Scope) -> tuple[ApiKey, str]:
    """A new key and its plaintext, which is returned only here. The caller commits."""
    if scope not in ("read", "write"):
        raise ValueError(f"scope must be read or write, not {scope!r}")
    plaintext = _PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(name=name, prefix=plaintext[:10], key_hash=hash_key(plaintext), scope=scope)
    session.add(row)
    session.flush()
    return row, plaintext


def find_active_key(session: Session, plaintext: str) -> ApiKey | None:
    row = session.exec(select(ApiKey).where(ApiKey.key_hash == hash_key(plaintext))).first()
    if row is None or row.revoked_at is not None:
        return None
    now = utcnow()
    if row.last_used_at is None or now - row.last_used_at > _LAST_USED_PRECISION:
        row.last_used_at = now
        session.add(row)
        session.commit()
    return row


def revoke_api_key(session: Session, key_id: int) -> ApiKey | None:
    row = session.get(ApiKey, key_id)
    if row is not None and row.revoked_at is None:
        row.revoked_at = utcnow()
        session.add(row)
    return row

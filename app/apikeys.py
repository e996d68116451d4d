"""API keys: shown once when created, stored only as a SHA-256 hash, scoped read or write."""

import hashlib
import secrets
import time
from datetime import timedelta
from typing import Any, Literal

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from app.keyset import after_id
from app.logs import keep_out
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
    keep_out(plaintext)
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


def key_in_use(engine: Engine, plaintext: str) -> ApiKey | None:
    """The active key for a request: looked up without the SQLite write lock, and written (last use)
    at most once a minute in a transaction of its own."""
    with Session(engine.execution_options(sqlite_read_only=True), expire_on_commit=False) as session:
        row = session.exec(select(ApiKey).where(ApiKey.key_hash == hash_key(plaintext))).first()
    if row is None or row.revoked_at is not None:
        return None
    if row.last_used_at is None or utcnow() - row.last_used_at > _LAST_USED_PRECISION:
        with Session(engine, expire_on_commit=False) as session:
            return find_active_key(session, plaintext)
    return row


# (engine url, key hash) -> (the active key, monotonic time it was verified): the API's auth dependency
# trusts a verified key for `api_key_cache_seconds` without a database read or a thread-pool hop.
_verified: dict[tuple[str, str], tuple[ApiKey, float]] = {}


def cached_key(engine: Engine, plaintext: str, ttl: float) -> ApiKey | None:
    """The key verified within the last `ttl` seconds in this process, if any."""
    if ttl <= 0:
        return None
    hit = _verified.get((str(engine.url), hash_key(plaintext)))
    if hit is None or time.monotonic() - hit[1] >= ttl:
        return None
    return hit[0]


def verified_key(engine: Engine, plaintext: str) -> ApiKey | None:
    """key_in_use(), remembered for cached_key(); an unknown or revoked key is not remembered."""
    row = key_in_use(engine, plaintext)
    cache_key = (str(engine.url), hash_key(plaintext))
    if row is None:
        _verified.pop(cache_key, None)
    else:
        _verified[cache_key] = (row, time.monotonic())
        keep_out(plaintext)
    return row


def revoke_api_key(session: Session, key_id: int) -> ApiKey | None:
    row = session.get(ApiKey, key_id)
    if row is not None and row.revoked_at is None:
        row.revoked_at = utcnow()
        session.add(row)
    if row is not None:  # other processes see it once their cached verification expires
        for cache_key in [k for k in _verified if k[1] == row.key_hash]:
            _verified.pop(cache_key, None)
    return row


def list_api_keys(session: Session, include_revoked: bool = True) -> list[ApiKey]:
    """Newest first, for the CLI and the settings page; rows carry the prefix, never the key."""
    query = select(ApiKey).order_by(col(ApiKey.id).desc())
    if not include_revoked:
        query = query.where(col(ApiKey.revoked_at).is_(None))
    return list(session.exec(query))


def keys_newest_first(cursor: str | None) -> Any:
    """Every key, newest first, for the settings page (the rows carry the prefix, never the key)."""
    return after_id(select(ApiKey), ApiKey.id, cursor, descending=True)


# key hash -> key id; ids never change, so the rate limit and idempotency need not ask the database
# each request (whether a key is still valid is the auth dependency's question, asked every time)
_ids_by_hash: dict[str, int] = {}


def bearer_key_id(engine: Engine, authorization: str) -> int | None:
    """The id of the key in an `Authorization: Bearer` header, revoked or not; None if unknown."""
    scheme, _, key = authorization.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        return None
    digest = hash_key(key.strip())
    cache_key = f"{engine.url}|{digest}"
    if cache_key not in _ids_by_hash:
        with Session(engine) as session:
            key_id = session.exec(select(ApiKey.id).where(ApiKey.key_hash == digest)).first()
        if key_id is None:
            return None
        _ids_by_hash[cache_key] = key_id
    return _ids_by_hash[cache_key]

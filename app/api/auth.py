"""API-key authentication for /api/v1: `Authorization: Bearer <key>`; GET and HEAD need a read or
write key, every other method a write key.

Async, so a request whose key was verified within `api_key_cache_seconds` costs no database read and no
thread-pool hop; otherwise the key is looked up in the thread pool, once for all the requests that
arrive with it meanwhile. A revocation takes effect at once in the process that made it and within that
window in every other process."""

import math

from fastapi import HTTPException, Request, status
from sqlalchemy import Engine

from app.apikeys import cached_key, hash_key, verified_key
from app.deps import EngineDep, SettingsDep, in_flight, once_in_threadpool
from app.models import ApiKey
from app.users.audit import Actor

_READ_METHODS = {"GET", "HEAD", "OPTIONS"}


async def _looked_up(engine: Engine, key: str, ttl: float) -> ApiKey | None:
    """When a busy client's key expires from the cache, one of its concurrent requests reads the database
    while the others go on with the verification that just expired (a revocation in this process drops
    it at once), instead of all of them queueing for the connection pool."""
    lookup = ("api key", str(engine.url), hash_key(key))
    if in_flight(lookup) and ttl > 0 and (last := cached_key(engine, key, math.inf)) is not None:
        return last  # verified a moment beyond the window, and being checked again right now
    return await once_in_threadpool(lookup, verified_key, engine, key)


async def require_api_key(request: Request, engine: EngineDep, settings: SettingsDep) -> ApiKey:
    header = request.headers.get("authorization", "")
    scheme, _, key = header.partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing API key: send Authorization: Bearer <key>",
            headers={"WWW-Authenticate": "Bearer"},
        )
    row = cached_key(engine, key, settings.api_key_cache_seconds)
    if row is None:
        row = await _looked_up(engine, key, settings.api_key_cache_seconds)
    if row is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "unknown or revoked API key", headers={"WWW-Authenticate": "Bearer"}
        )
    if request.method not in _READ_METHODS and row.scope != "write":
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"API key {row.prefix}… is read-only; this needs a write key")
    request.state.api_key_id = row.id
    request.state.actor = Actor("api_key", row.id, f"{row.prefix}…")  # for the audit log
    request.state.api_key_label = f"API key {row.prefix}… ({row.name})"
    return row

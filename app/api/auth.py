"""API-key authentication for /api/v1: `Authorization: Bearer <key>`; GET and HEAD need a read or
write key, every other method a write key."""

from fastapi import HTTPException, Request, status
from sqlmodel import Session

from app.api.deps import EngineDep
from app.apikeys import find_active_key
from app.models import ApiKey

_READ_METHODS = {"GET", "HEAD", "OPTIONS"}


def require_api_key(request: Request, engine: EngineDep) -> ApiKey:
    header = request.headers.get("authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing API key: send Authorization: Bearer <key>",
            headers={"WWW-Authenticate": "Bearer"},
        )
    # A session of its own, closed at once: on SQLite an open transaction holds the write lock,
    # and the request's own session may live as long as the request.
    with Session(engine, expire_on_commit=False) as session:
        row = find_active_key(session, key.strip())
    if row is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "unknown or revoked API key", headers={"WWW-Authenticate": "Bearer"}
        )
    if request.method not in _READ_METHODS and row.scope != "write":
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"API key {row.prefix}… is read-only; this needs a write key")
    request.state.api_key_id = row.id
    return row

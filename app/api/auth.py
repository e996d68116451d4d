"""API-key authentication for /api/v1: `Authorization: Bearer <key>`; GET and HEAD need a read or
write key, every other method a write key."""

from fastapi import HTTPException, Request, status

from app.api.deps import EngineDep
from app.apikeys import key_in_use
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
    row = key_in_use(engine, key.strip())
    if row is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "unknown or revoked API key", headers={"WWW-Authenticate": "Bearer"}
        )
    if request.method not in _READ_METHODS and row.scope != "write":
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"API key {row.prefix}… is read-only; this needs a write key")
    request.state.api_key_id = row.id
    return row

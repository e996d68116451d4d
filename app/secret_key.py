"""The HMAC key behind VERP and unsubscribe tokens: configured, or generated once and kept in the
database so every process on every machine signs and verifies with the same key."""

import secrets

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from app.models import StoredSetting
from app.settings import Settings

_KEY = "secret_key"
_cache: dict[str, bytes] = {}


def get_secret_key(settings: Settings, engine: Engine) -> bytes:
    if settings.secret_key is not None:
        return settings.secret_key.get_secret_value().encode()
    url = str(engine.url)
    if url not in _cache:
        _cache[url] = _load_or_create(engine).encode()
    return _cache[url]


def _load_or_create(engine: Engine) -> str:
    with Session(engine) as session:
        row = session.get(StoredSetting, _KEY)
        if row is not None:
            return str(row.value)
        session.add(StoredSetting(key=_KEY, value=secrets.token_urlsafe(32)))
        try:
            session.commit()
        except IntegrityError:  # another process created it first: use theirs
            session.rollback()
        row = session.get(StoredSetting, _KEY)
        assert row is not None
        return str(row.value)

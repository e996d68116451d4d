"""The server-side session store: the browser's cookie carries a random token, this table its hash.
Signing out deletes the row; deactivating a user deletes all of theirs, so every browser of theirs is
signed out at its next request."""

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, select
from sqlmodel import Session, col

from app.models import User, WebSession, utcnow

LIFETIME = timedelta(hours=12)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(session: Session, user_id: int, now: datetime | None = None) -> str:
    """A new session for the user; returns the token for the cookie (kept nowhere else). The caller commits."""
    now = now or utcnow()
    token = secrets.token_urlsafe(32)
    session.add(WebSession(token_hash=_hash(token), user_id=user_id, created_at=now, expires_at=now + LIFETIME))
    # expired rows go with each new sign-in, so the table does not grow without end
    session.execute(delete(WebSession).where(col(WebSession.expires_at) < now))
    return token


def open_session(engine: Engine, user_id: int) -> str:
    with Session(engine) as session:
        token = start_session(session, user_id)
        session.commit()
        return token


def session_user(engine: Engine, token: str | None, now: datetime | None = None) -> User | None:
    """The active user a session token belongs to; None when it is unknown, ended, expired or the user is
    deactivated."""
    if not token:
        return None
    with Session(engine, expire_on_commit=False) as session:
        row = (
            session.execute(
                select(User)
                .join(WebSession, col(WebSession.user_id) == col(User.id))
                .where(col(WebSession.token_hash) == _hash(token), col(WebSession.expires_at) > (now or utcnow()))
                .where(col(User.deactivated_at).is_(None))
            )
            .scalars()
            .first()
        )
        return row


def end_session(engine: Engine, token: str | None) -> None:
    if not token:
        return
    with Session(engine) as session:
        session.execute(delete(WebSession).where(col(WebSession.token_hash) == _hash(token)))
        session.commit()


def end_all_sessions(session: Session, user_id: int) -> int:
    """Sign the user out everywhere. The caller commits."""
    result = session.execute(delete(WebSession).where(col(WebSession.user_id) == user_id))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]

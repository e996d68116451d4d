"""Suppressions the sweep creates, in bulk: one query for the ones that exist, one insert for the rest.
An address already suppressed keeps its suppression (its first reason stands); callers link to it. A
wanted suppression from one list (an unsubscribe tied to a campaign) is met by one from every list."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import select
from sqlmodel import Session, col

from app.db import chunks, insert_rows
from app.models import Suppression
from app.models.types import EMAIL_LENGTH, NAME_LENGTH

T = TypeVar("T")


@dataclass(frozen=True)
class Wanted:
    email: str
    reason: str  # unsubscribed | bounced | complained
    campaign_id: int | None = None
    delivery_id: int | None = None
    list_ids: tuple[int, ...] = ()  # from these lists only; empty: from every list


def ensure_suppressions(session: Session, wanted: dict[str, Wanted], source: str, now: datetime) -> dict[str, int]:
    """email_key -> a suppression id for every wanted key (the one from every list when there is one, else
    the first of its lists), creating the missing ones."""
    existing = _ids(session, sorted(wanted))

    def found(key: str, w: Wanted) -> int | None:
        scopes = existing.get(key, {})
        return scopes.get(None) or next((scopes[i] for i in w.list_ids if i in scopes), None)

    missing: list[dict[str, Any]] = [
        {
            "email": w.email[:EMAIL_LENGTH],
            "email_key": key,
            "reason": w.reason,
            "source": source[:NAME_LENGTH],
            "note": "",
            "campaign_id": w.campaign_id,
            "delivery_id": w.delivery_id,
            "list_id": list_id,
            "created_at": now,
        }
        for key, w in wanted.items()
        if None not in existing.get(key, {})
        for list_id in (w.list_ids or (None,))
        if list_id not in existing.get(key, {})
    ]
    if missing:
        # insert, then read the ids back: INSERT..RETURNING in parameter order is one statement per row on SQLite
        insert_rows(session, Suppression, missing)
        existing = _ids(session, sorted(wanted))
    ids = {key: found(key, w) for key, w in wanted.items()}
    return {k: i for k, i in ids.items() if i is not None}


def _ids(session: Session, keys: Sequence[str]) -> dict[str, dict[int | None, int]]:
    """email_key -> scope (a list id, None: every list) -> suppression id."""
    ids: dict[str, dict[int | None, int]] = {}
    for chunk in chunks(keys):
        stmt = select(col(Suppression.email_key), col(Suppression.list_id), col(Suppression.id)).where(
            col(Suppression.email_key).in_(chunk)
        )
        for key, list_id, sid in session.execute(stmt).tuples():
            ids.setdefault(key, {})[list_id] = sid
    return ids

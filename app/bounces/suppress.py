"""Suppressions the sweep creates, in bulk: one query for the ones that exist, one insert for the rest.
An address already suppressed keeps its suppression (its first reason stands); callers link to it."""

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


def ensure_suppressions(session: Session, wanted: dict[str, Wanted], source: str, now: datetime) -> dict[str, int]:
    """email_key -> suppression id for every wanted key, creating the missing ones."""
    ids = _ids(session, sorted(wanted))
    missing: list[dict[str, Any]] = [
        {
            "email": w.email[:EMAIL_LENGTH],
            "email_key": key,
            "reason": w.reason,
            "source": source[:NAME_LENGTH],
            "note": "",
            "campaign_id": w.campaign_id,
            "delivery_id": w.delivery_id,
            "created_at": now,
        }
        for key, w in wanted.items()
        if key not in ids
    ]
    if missing:
        # insert, then read the ids back: INSERT..RETURNING in parameter order is one statement per row on SQLite
        insert_rows(session, Suppression, missing)
        ids.update(_ids(session, [row["email_key"] for row in missing]))
    return ids


def _ids(session: Session, keys: Sequence[str]) -> dict[str, int]:
    ids: dict[str, int] = {}
    for chunk in chunks(keys):
        stmt = select(col(Suppression.email_key), col(Suppression.id)).where(col(Suppression.email_key).in_(chunk))
        ids.update(session.execute(stmt).tuples().all())
    return ids

"""Compile a send's audience: the union of the chosen lists, less duplicates and every kind of
suppression, with a count per list and per exclusion reason. A campaign freezes the result into its
ledger at launch (`freeze_into_ledger`), in one INSERT ... SELECT so a million recipients take seconds.

Counting: `candidates` are list memberships; a contact in several chosen lists counts once and its
extra memberships are `duplicates` (contacts are already unique per email_key). Each remaining
contact is either `included` or excluded for exactly one reason: its suppression row's reason
(unsubscribed, bounced, complained, manual) when it has one, else `bounced` when the bounce policy
suppresses it right now. So candidates = duplicates + sum(excluded) + included.

`needs_smtputf8` counts the included addresses whose local part is not ASCII (`jörg@example.de`):
they are sent with SMTPUTF8 (RFC 6531) when the relay offers it; through a relay that does not,
each of their rows fails with that reason. The count lets the marketer see how many depend on it."""

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import LargeBinary, Select, Subquery, case, cast, func, literal, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col

from app.bounces.policy import BouncePolicy, bounced_keys
from app.db import is_postgresql
from app.models import Contact, Delivery, ListMember, MailingList, Suppression
from app.models.states import DeliveryState, SuppressionReason
from app.models.types import UTCDateTime
from app.settings import Settings

# an erased address is never a contact again (imports refuse it), so compile never meets one
EXCLUSION_REASONS = tuple(r for r in SuppressionReason.ALL if r != SuppressionReason.ERASED)


class UnknownList(LookupError):
    """A list id that does not exist; the message names it."""


@dataclass
class CompiledAudience:
    counts: dict[str, Any]
    _session: Session = field(repr=False)
    _included: Select = field(repr=False)

    def contacts(self, batch: int = 5000) -> Iterator[tuple[int, str, str]]:
        """(contact_id, email, email_key) of every included recipient, streamed in id order."""
        result = self._session.execute(self._included.execution_options(yield_per=batch))
        for row in result:
            yield row.id, row.email, row.email_key


def _chosen_contacts(list_ids: list[int]) -> Subquery:
    return select(col(ListMember.contact_id)).where(col(ListMember.list_id).in_(list_ids)).distinct().subquery("chosen")


def _reasoned(list_ids: list[int], settings: Settings, now: datetime) -> Select:
    """One row per chosen contact with its exclusion reason (NULL when it is included)."""
    chosen = _chosen_contacts(list_ids)
    bounced = bounced_keys(BouncePolicy.from_settings(settings), now).subquery("bounced")
    reason = case(
        (col(Suppression.reason).is_not(None), col(Suppression.reason)),
        (bounced.c.email_key.is_not(None), literal(SuppressionReason.BOUNCED)),
        else_=None,
    ).label("reason")
    return (
        select(col(Contact.id), col(Contact.email), col(Contact.email_key), reason)
        .join(chosen, chosen.c.contact_id == Contact.id)
        .outerjoin(Suppression, col(Suppression.email_key) == Contact.email_key)
        .outerjoin(bounced, bounced.c.email_key == Contact.email_key)
    )


def _check_lists(session: Session, list_ids: list[int]) -> dict[int, str]:
    names: dict[int, str] = dict(
        session.execute(select(col(MailingList.id), col(MailingList.name)).where(col(MailingList.id).in_(list_ids)))
        .tuples()
        .all()
    )
    missing = [i for i in list_ids if i not in names]
    if missing:
        raise UnknownList(f"no list with id {', '.join(map(str, missing))}")
    return names


def _counts(session: Session, list_ids: list[int], settings: Settings, now: datetime) -> dict[str, Any]:
    names = _check_lists(session, list_ids)
    per_list: dict[int, int] = dict(
        session.execute(
            select(col(ListMember.list_id), func.count())
            .where(col(ListMember.list_id).in_(list_ids))
            .group_by(col(ListMember.list_id))
        )
        .tuples()
        .all()
    )
    reasoned = _reasoned(list_ids, settings, now).subquery("reasoned")
    by_reason = dict(session.execute(select(reasoned.c.reason, func.count()).group_by(reasoned.c.reason)).all())
    candidates = sum(per_list.values())
    unique = sum(by_reason.values())
    excluded = {r: int(by_reason.get(r, 0)) for r in EXCLUSION_REASONS}
    utf8 = session.execute(
        select(func.count()).where(reasoned.c.reason.is_(None), _not_ascii(session, reasoned.c.email))
    ).scalar_one()
    return {
        "sources": {names[i]: int(per_list.get(i, 0)) for i in list_ids},
        "candidates": candidates,
        "duplicates": candidates - unique,
        "excluded": excluded,
        "included": int(by_reason.get(None, 0)),
        "needs_smtputf8": int(utf8),
    }


def _not_ascii(session: Session, email: Any) -> Any:
    """True for an address with a non-ASCII local part (domains are stored in ASCII form): more bytes
    than characters."""
    if is_postgresql(session):
        return func.octet_length(email) != func.length(email)
    return func.length(cast(email, LargeBinary)) != func.length(email)


def compile_audience(session: Session, list_ids: list[int], settings: Settings, now: datetime) -> CompiledAudience:
    """Counts for the chosen lists and a way to stream the included contacts."""
    list_ids = list(dict.fromkeys(list_ids))
    counts = _counts(session, list_ids, settings, now)
    included = _reasoned(list_ids, settings, now).subquery("reasoned")
    query = (
        select(included.c.id, included.c.email, included.c.email_key)
        .where(included.c.reason.is_(None))
        .order_by(included.c.id)
    )
    return CompiledAudience(counts=counts, _session=session, _included=query)


def freeze_into_ledger(
    session: Session,
    campaign_id: int,
    list_ids: list[int],
    settings: Settings,
    now: datetime,
    next_attempt_at: datetime,
) -> dict[str, Any]:
    """Insert one queued Delivery per included recipient and return the compile counts.

    Idempotent per (campaign, email_key): a second call adds only recipients that are new. Runs in
    the caller's transaction; the caller commits."""
    list_ids = list(dict.fromkeys(list_ids))
    counts = _counts(session, list_ids, settings, now)
    reasoned = _reasoned(list_ids, settings, now).subquery("reasoned")
    rows = select(
        literal(campaign_id).label("campaign_id"),
        reasoned.c.id,
        reasoned.c.email,
        reasoned.c.email_key,
        literal(DeliveryState.QUEUED).label("state"),
        literal(0).label("attempts"),
        literal(next_attempt_at, UTCDateTime()).label("next_attempt_at"),
    ).where(reasoned.c.reason.is_(None))
    dialect = postgresql if is_postgresql(session) else sqlite
    columns = ["campaign_id", "contact_id", "email", "email_key", "state", "attempts", "next_attempt_at"]
    stmt = (
        dialect.insert(Delivery)
        .from_select(columns, rows)
        .on_conflict_do_nothing(index_elements=["campaign_id", "email_key"])
    )
    session.execute(stmt)
    return counts

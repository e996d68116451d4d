"""Compile a send's audience: the union of the chosen lists, less duplicates and every kind of
suppression, with a count per list and per exclusion reason. A campaign freezes the result into its
ledger at launch (`freeze_into_ledger`), in one INSERT ... SELECT so a million recipients take seconds.

Counting: `candidates` are list memberships; a contact in several chosen lists counts once and its
extra memberships are `duplicates` (contacts are already unique per email_key). Each remaining
contact is either `included` or excluded for exactly one reason, the first that holds of:
`unconfirmed` when its memberships in the chosen lists all wait for a signup's confirmation; its
suppression row's reason (unsubscribed from all, bounced, complained, manual) when it has one for every
list; `unsubscribed_list` when it unsubscribed from each chosen list it is subscribed to (a contact on
lists A and B that left A stays in a send to B, or to A and B); `bounced` when the bounce policy
suppresses it right now. So candidates = duplicates + sum(excluded) + included. `unsubscribed_by_list`
counts, per chosen list, its members that unsubscribed from that list.

`needs_smtputf8` counts the included addresses whose local part is not ASCII (`jörg@example.de`):
they are sent with SMTPUTF8 (RFC 6531) when the relay offers it; through a relay that does not,
each of their rows fails with that reason. The count lets the marketer see how many depend on it."""

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import LargeBinary, Select, and_, case, cast, func, literal, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import aliased
from sqlmodel import Session, col

from app.audience.reasons import EXCLUSION_REASONS, UNCONFIRMED, UNSUBSCRIBED_LIST
from app.bounces.policy import BouncePolicy, bounced_keys
from app.db import is_postgresql
from app.models import Contact, Delivery, ListMember, MailingList, Suppression
from app.models.states import DeliveryState, MemberStatus, SuppressionReason
from app.models.types import UTCDateTime
from app.settings import Settings

LARGE_SET_WORK_MEM = "64MB"
SQLITE_FREEZE_CACHE_KIB = 256 * 1024


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


def _chosen_ids(list_ids: list[int]) -> Select:
    return select(col(ListMember.contact_id)).where(col(ListMember.list_id).in_(list_ids))


def _unconfirmed_only(list_ids: list[int]) -> Select:
    """The contacts whose every membership in the chosen lists still waits for its confirmation: read from
    the partial index of unconfirmed memberships, which holds only the few recent signups."""
    subscribed = aliased(ListMember)
    confirmed_elsewhere = (
        select(literal(1))
        .where(
            col(subscribed.contact_id) == ListMember.contact_id,
            col(subscribed.list_id).in_(list_ids),
            col(subscribed.status) == MemberStatus.SUBSCRIBED,
        )
        .exists()
    )
    return select(col(ListMember.contact_id)).where(
        col(ListMember.list_id).in_(list_ids), col(ListMember.status) == UNCONFIRMED, ~confirmed_elsewhere
    )


def _in_lists(list_ids: list[int]) -> Any:
    """The contact row of the outer query is a member of one of the lists."""
    member = select(literal(1)).where(col(ListMember.contact_id) == Contact.id, col(ListMember.list_id).in_(list_ids))
    return member.exists()


def _suppressed() -> Any:
    """The contact of the outer query may not be mailed on any list."""
    return (
        select(literal(1))
        .where(col(Suppression.email_key) == Contact.email_key, col(Suppression.list_id).is_(None))
        .exists()
    )


def _left_lists(session: Session, list_ids: list[int]) -> bool:
    """Whether anyone unsubscribed from one of these lists (an index probe per list): when nobody did,
    the per-list check is left out of the statements."""
    query = select(literal(1)).where(col(Suppression.list_id).in_(list_ids)).limit(1)
    return session.execute(query).first() is not None


def _on_a_list(list_ids: list[int]) -> Any:
    """The contact of the outer query is subscribed to one of the lists and has not unsubscribed from that
    one (an unconfirmed membership does not count: it is not mailed either way)."""
    # explicit: the contact is two levels out, where auto-correlation does not reach
    left = (
        select(literal(1))
        .where(col(Suppression.list_id) == ListMember.list_id, col(Suppression.email_key) == Contact.email_key)
        .correlate_except(Suppression)
    )
    return (
        select(literal(1))
        .where(
            col(ListMember.contact_id) == Contact.id,
            col(ListMember.list_id).in_(list_ids),
            col(ListMember.status) == MemberStatus.SUBSCRIBED,
            ~left.exists(),
        )
        .correlate_except(ListMember)
        .exists()
    )


def _included(session: Session, list_ids: list[int], settings: Settings, now: datetime) -> Any:
    """The WHERE clause of the included contacts: subscribed to a chosen list they have not left, no
    suppression from every list, and not suppressed by the bounce policy right now. Driven from the
    lists' members (an index range each)."""
    bounced = bounced_keys(BouncePolicy.from_settings(settings), now)
    clauses = [
        col(Contact.id).in_(_chosen_ids(list_ids)),
        col(Contact.id).not_in(_unconfirmed_only(list_ids)),
        ~_suppressed(),
        col(Contact.email_key).not_in(bounced),
    ]
    if _left_lists(session, list_ids):
        clauses.append(_on_a_list(list_ids))
    return and_(*clauses)


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


def _for_large_sets(session: Session) -> None:
    """PostgreSQL, for the rest of this transaction: no JIT (compiling these statements cost more
    than running them) and room to hash and sort a million rows in memory instead of in batches on
    disk."""
    if is_postgresql(session):
        session.execute(text("SET LOCAL jit = off"))
        session.execute(text(f"SET LOCAL work_mem = '{LARGE_SET_WORK_MEM}'"))


def _counts(session: Session, list_ids: list[int], settings: Settings, now: datetime) -> dict[str, Any]:
    """A few set-based queries, each driven from its smallest side: the members of the chosen lists
    (unique contacts), the suppression rows and the policy's bounced addresses (the exclusions). The
    included are what is left, so no query walks the included contacts a second time."""
    names = _check_lists(session, list_ids)
    _for_large_sets(session)
    per_list: dict[int, int] = dict(
        session.execute(
            select(col(ListMember.list_id), func.count())
            .where(col(ListMember.list_id).in_(list_ids))
            .group_by(col(ListMember.list_id))
        )
        .tuples()
        .all()
    )
    utf8 = func.coalesce(func.sum(case((_not_ascii(session, col(Contact.email)), 1), else_=0)), 0)
    unique, unique_utf8 = session.execute(
        select(func.count(), utf8).where(col(Contact.id).in_(_chosen_ids(list_ids)))
    ).one()
    waiting = _unconfirmed_only(list_ids)
    by_reason = {reason: (0, 0) for reason in EXCLUSION_REASONS}
    n_waiting, n_waiting_utf8 = session.execute(select(func.count(), utf8).where(col(Contact.id).in_(waiting))).one()
    by_reason[UNCONFIRMED] = (int(n_waiting), int(n_waiting_utf8))
    # an unconfirmed contact has that one reason, whatever else holds for it
    in_lists = and_(_in_lists(list_ids), col(Contact.id).not_in(waiting))
    for reason, n, n_utf8 in session.execute(
        select(col(Suppression.reason), func.count(), utf8)
        .join(Contact, col(Contact.email_key) == Suppression.email_key)
        .where(in_lists, col(Suppression.list_id).is_(None))
        .group_by(col(Suppression.reason))
    ).tuples():
        by_reason[reason] = (int(n), int(n_utf8))
    left_by_list: dict[int, int] = {}
    not_left: list[Any] = []
    if _left_lists(session, list_ids):
        left_by_list = _left_by_list(session, list_ids)
        n, n_utf8 = session.execute(
            select(func.count(), utf8).where(
                col(Contact.id).in_(_chosen_ids(list_ids)),
                col(Contact.id).not_in(waiting),
                ~_suppressed(),
                ~_on_a_list(list_ids),
            )
        ).one()
        by_reason[UNSUBSCRIBED_LIST] = (int(n), int(n_utf8))
        not_left = [_on_a_list(list_ids)]
    bounced = bounced_keys(BouncePolicy.from_settings(settings), now)
    by_policy, by_policy_utf8 = session.execute(
        select(func.count(), utf8).where(col(Contact.email_key).in_(bounced), ~_suppressed(), in_lists, *not_left)
    ).one()
    n, n_utf8 = by_reason[SuppressionReason.BOUNCED]
    by_reason[SuppressionReason.BOUNCED] = (n + int(by_policy), n_utf8 + int(by_policy_utf8))
    candidates = sum(per_list.values())
    excluded = {r: by_reason[r][0] for r in EXCLUSION_REASONS}
    return {
        "sources": {names[i]: int(per_list.get(i, 0)) for i in list_ids},
        "candidates": candidates,
        "duplicates": candidates - int(unique),
        "excluded": excluded,
        "unsubscribed_by_list": {names[i]: left_by_list.get(i, 0) for i in list_ids},
        "included": int(unique) - sum(n for n, _ in by_reason.values()),  # = the rows a freeze writes
        "needs_smtputf8": int(unique_utf8) - sum(u for _, u in by_reason.values()),
    }


def _left_by_list(session: Session, list_ids: list[int]) -> dict[int, int]:
    """Per list: its members that unsubscribed from it."""
    rows = session.execute(
        select(col(Suppression.list_id), func.count())
        .join(Contact, col(Contact.email_key) == Suppression.email_key)
        .join(
            ListMember, and_(col(ListMember.contact_id) == Contact.id, col(ListMember.list_id) == Suppression.list_id)
        )
        .where(col(Suppression.list_id).in_(list_ids))
        .group_by(col(Suppression.list_id))
    ).tuples()
    return {int(i): int(n) for i, n in rows if i is not None}


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
    query = (
        select(col(Contact.id), col(Contact.email), col(Contact.email_key))
        .where(_included(session, list_ids, settings, now))
        .order_by(col(Contact.id))
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

    One INSERT ... SELECT with the exclusions as anti-joins. The rows go in address order: the ledger's
    unique (campaign, address) index and its per-address index are then appended to in order instead
    of at a random page per row, which is most of the cost of a million-row freeze.

    Idempotent per (campaign, email_key): a second call adds only recipients that are new. Runs in
    the caller's transaction; the caller commits."""
    list_ids = list(dict.fromkeys(list_ids))
    counts = _counts(session, list_ids, settings, now)
    rows = (
        select(
            literal(campaign_id).label("campaign_id"),
            col(Contact.id),
            col(Contact.email),
            col(Contact.email_key),
            literal(DeliveryState.QUEUED).label("state"),
            literal(0).label("attempts"),
            literal(next_attempt_at, UTCDateTime()).label("next_attempt_at"),
        )
        .where(_included(session, list_ids, settings, now))
        .order_by(col(Contact.email_key))
    )
    dialect = postgresql if is_postgresql(session) else sqlite
    columns = ["campaign_id", "contact_id", "email", "email_key", "state", "attempts", "next_attempt_at"]
    stmt = (
        dialect.insert(Delivery)
        .from_select(columns, rows)
        .on_conflict_do_nothing(index_elements=["campaign_id", "email_key"])
    )
    if is_postgresql(session):
        session.execute(stmt)
        return counts
    # SQLite: a page cache that holds the ledger indexes' working set while a million rows go in
    # (the default 2 MB re-reads pages from the OS for every few rows); back to what it was afterwards
    cache = session.execute(text("PRAGMA cache_size")).scalar_one()
    session.execute(text(f"PRAGMA cache_size = -{SQLITE_FREEZE_CACHE_KIB}"))
    try:
        session.execute(stmt)
    finally:
        session.execute(text(f"PRAGMA cache_size = {int(cache)}"))
    return counts

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

from sqlalchemy import (
    Column,
    CompoundSelect,
    FromClause,
    Integer,
    LargeBinary,
    MetaData,
    Select,
    String,
    Table,
    and_,
    case,
    cast,
    func,
    insert,
    literal,
    literal_column,
    select,
    text,
    union_all,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col

from app.audience.queries import member_counts
from app.audience.reasons import EXCLUSION_REASONS, UNCONFIRMED, UNSUBSCRIBED_LIST
from app.bounces.policy import BouncePolicy, bounced_keys
from app.db import is_postgresql
from app.models import Contact, Delivery, ListMember, MailingList, Suppression
from app.models.states import DeliveryState, MemberStatus, SuppressionReason
from app.models.types import UTCDateTime
from app.settings import Settings

LARGE_SET_WORK_MEM = "64MB"
SQLITE_FREEZE_CACHE_KIB = 256 * 1024
KEPT_EXCLUSIONS = "freeze_excluded"
LEDGER_KEY = ["campaign_id", "email_key"]  # unique among bulk rows: one ledger row per address and campaign
BULK_ROWS = text("NOT transactional")  # the rows that unique index covers (a transactional stream repeats addresses)


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


def _in_lists(list_ids: list[int], contact_id: Any = None) -> Any:
    """The contact of the outer query (its id column, the contact row's by default) is a member of one of
    the lists."""
    contact_id = col(Contact.id) if contact_id is None else contact_id
    member = select(literal(1)).where(col(ListMember.contact_id) == contact_id, col(ListMember.list_id).in_(list_ids))
    return member.exists()


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
    # a scalar subquery, not EXISTS: PostgreSQL turned the anti-join into a hash of every chosen membership
    # (a million rows) to check the few thousand contacts that left a list; this way each is probed by index
    return (
        select(literal(1))
        .where(
            col(ListMember.contact_id) == Contact.id,
            col(ListMember.list_id).in_(list_ids),
            col(ListMember.status) == MemberStatus.SUBSCRIBED,
            ~left.exists(),
        )
        .correlate_except(ListMember)
        .limit(1)
        .scalar_subquery()
        .is_not(None)
    )


def _left_every_list(session: Session, list_ids: list[int]) -> Select:
    """The contacts that unsubscribed from each chosen list they are subscribed to: driven from the
    suppression rows naming a chosen list (the few who left one), each checked against its memberships."""
    return (
        select(col(Contact.id), _utf8(session).label("utf8"))
        .join(Suppression, col(Suppression.email_key) == Contact.email_key)
        .where(col(Suppression.list_id).in_(list_ids), ~_on_a_list(list_ids))
    )


# the rank of each exclusion: a contact several hold of has the lowest (see the module's docstring)
RANK_UNCONFIRMED, RANK_SUPPRESSED, RANK_LEFT, RANK_POLICY = range(4)


def _exclusions(session: Session, list_ids: list[int], settings: Settings, now: datetime) -> CompoundSelect:
    """(contact_id, rank, reason) for every contact an exclusion holds of, one row per exclusion, each
    kind driven from its own small side: the unconfirmed memberships, the suppression rows, the
    suppressions naming a chosen list, the policy's bounced addresses. Suppressed and bounced contacts
    outside the chosen lists are in it too: anti-join it with the lists' members, or filter."""
    policy = bounced_keys(BouncePolicy.from_settings(settings), now)
    utf8 = _utf8(session)
    unconfirmed = _unconfirmed_only(list_ids).subquery()
    kinds = [
        # the first select names the columns: contact_id, rank, reason, utf8
        select(
            unconfirmed.c.contact_id.label("contact_id"),
            literal(RANK_UNCONFIRMED).label("rank"),
            literal(UNCONFIRMED).label("reason"),
            utf8.label("utf8"),
        ).join(Contact, col(Contact.id) == unconfirmed.c.contact_id),
        select(col(Contact.id), literal(RANK_SUPPRESSED), col(Suppression.reason), utf8)
        .join(Contact, col(Contact.email_key) == Suppression.email_key)
        .where(col(Suppression.list_id).is_(None)),
        select(col(Contact.id), literal(RANK_POLICY), literal(SuppressionReason.BOUNCED), utf8).where(
            col(Contact.email_key).in_(policy)
        ),
    ]
    if _left_lists(session, list_ids):
        left = _left_every_list(session, list_ids).subquery()
        kinds.append(select(left.c.id, literal(RANK_LEFT), literal(UNSUBSCRIBED_LIST), left.c.utf8))
    return union_all(*kinds)


def _utf8(session: Session) -> Any:
    """1 for a contact row whose address is not ASCII, else 0: carried with each exclusion, so the counts
    need not look the excluded contacts up again."""
    return case((_not_ascii(session, col(Contact.email)), 1), else_=0)


def _included(list_ids: list[int], excluded: FromClause) -> Any:
    """The WHERE clause of the included contacts: members of a chosen list no exclusion holds of."""
    return and_(
        col(Contact.id).in_(_chosen_ids(list_ids)),
        col(Contact.id).not_in(select(excluded.c.contact_id)),
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


def _for_large_sets(session: Session) -> None:
    """PostgreSQL, for the rest of this transaction: no JIT (compiling these statements cost more
    than running them) and room to hash and sort a million rows in memory instead of in batches on
    disk."""
    if is_postgresql(session):
        session.execute(text("SET LOCAL jit = off"))
        session.execute(text(f"SET LOCAL work_mem = '{LARGE_SET_WORK_MEM}'"))


def _counts(session: Session, list_ids: list[int], names: dict[int, str], excluded: FromClause) -> dict[str, Any]:
    """The lists' sizes and unique contacts from their memberships' keys, the SMTPUTF8 ones from the
    partial index of non-ASCII addresses, and every exclusion in one grouped pass over the excluded
    contacts (`_by_reason`). The included are what is left, so no query walks the included contacts."""
    per_list = member_counts(session, list_ids)
    if len(list_ids) == 1:  # a list holds a contact once: no duplicates to find
        unique = per_list.get(list_ids[0], 0)
    else:
        members = select(col(ListMember.contact_id)).where(col(ListMember.list_id).in_(list_ids)).subquery()
        unique = session.execute(select(func.count(func.distinct(members.c.contact_id)))).scalar_one()
    unique_utf8 = session.execute(
        select(func.count()).where(_not_ascii(session, col(Contact.email)), _in_lists(list_ids))
    ).scalar_one()
    by_reason = _by_reason(session, list_ids, excluded)
    left_by_list = _left_by_list(session, list_ids) if _left_lists(session, list_ids) else {}
    candidates = sum(per_list.values())
    return {
        "sources": {names[i]: int(per_list.get(i, 0)) for i in list_ids},
        "candidates": candidates,
        "duplicates": candidates - int(unique),
        "excluded": {r: by_reason.get(r, (0, 0))[0] for r in EXCLUSION_REASONS},
        "unsubscribed_by_list": {names[i]: left_by_list.get(i, 0) for i in list_ids},
        "included": int(unique) - sum(n for n, _ in by_reason.values()),  # = the rows a freeze writes
        "needs_smtputf8": int(unique_utf8) - sum(u for _, u in by_reason.values()),
    }


def _by_reason(session: Session, list_ids: list[int], excluded: FromClause) -> dict[str, tuple[int, int]]:
    """Reason -> (contacts, of them not ASCII) for the chosen lists' excluded contacts: each contact's
    exclusions grouped to the one of lowest rank, then counted per reason in the same statement."""
    contact_id, rank, reason, utf8 = excluded.c
    first = (
        select(
            contact_id.label("contact_id"),
            func.min(rank).label("rank"),
            # a contact has at most one suppression from every list, so at most one reason of that rank
            func.max(case((rank == RANK_SUPPRESSED, reason))).label("suppressed"),
            func.max(utf8).label("utf8"),
        )
        .group_by(contact_id)
        .subquery()
    )
    decided = case(
        (first.c.rank == RANK_UNCONFIRMED, literal(UNCONFIRMED)),
        (first.c.rank == RANK_SUPPRESSED, first.c.suppressed),
        (first.c.rank == RANK_LEFT, literal(UNSUBSCRIBED_LIST)),
        else_=literal(SuppressionReason.BOUNCED),
    )
    rows = session.execute(
        select(decided, func.count(), func.coalesce(func.sum(first.c.utf8), 0))
        .select_from(first)
        .where(_in_lists(list_ids, first.c.contact_id))
        .group_by(decided)
    ).tuples()
    return {str(r): (int(n), int(n_utf8)) for r, n, n_utf8 in rows}


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
    """True for an address with a non-ASCII local part: the expression of the partial index
    ix_contact_not_ascii (a literal 0, so the planners see they are the same)."""
    if is_postgresql(session):
        extra = func.octet_length(email) - func.length(email)
    else:
        extra = func.length(cast(email, LargeBinary)) - func.length(email)
    return extra > literal_column("0")


def compile_audience(session: Session, list_ids: list[int], settings: Settings, now: datetime) -> CompiledAudience:
    """Counts for the chosen lists and a way to stream the included contacts."""
    list_ids = list(dict.fromkeys(list_ids))
    names = _check_lists(session, list_ids)
    _for_large_sets(session)
    excluded = _exclusions(session, list_ids, settings, now).subquery()
    counts = _counts(session, list_ids, names, excluded)
    query = (
        select(col(Contact.id), col(Contact.email), col(Contact.email_key))
        .where(_included(list_ids, excluded))
        .order_by(col(Contact.id))
    )
    return CompiledAudience(counts=counts, _session=session, _included=query)


def freeze_into_ledger(
    session: Session,
    campaign_id: int,
    list_ids: list[int],
    settings: Settings,
    now: datetime,
    next_attempt_at: "datetime | FirstDue",
) -> dict[str, Any]:
    """Insert one queued Delivery per included recipient and return the compile counts.

    The exclusions are worked out once into a temporary table, which the counts and the INSERT ...
    SELECT both read. The rows go in address order: the ledger's unique (campaign, address) index is
    then appended to in order instead of at a random page per row, which is most of the cost of a
    million-row freeze.

    Idempotent per (campaign, email_key): a second call adds only recipients that are new. Runs in
    the caller's transaction; the caller commits."""
    list_ids = list(dict.fromkeys(list_ids))
    names = _check_lists(session, list_ids)
    _for_large_sets(session)
    excluded = _kept(session, _exclusions(session, list_ids, settings, now))
    counts = _counts(session, list_ids, names, excluded)
    write_ledger(session, campaign_id, _included(list_ids, excluded), next_attempt_at)
    _drop(session)
    return counts


@dataclass(frozen=True)
class FirstDue:
    """When each frozen row is first due and the state it waits in, as SQL over the contact row; `joined`
    (a table and its ON condition) is outer-joined to the contacts for them to read."""

    at: Any
    state: Any = DeliveryState.QUEUED
    joined: tuple[Any, Any] | None = None


def write_ledger(session: Session, campaign_id: int, included: Any, next_attempt_at: "datetime | FirstDue") -> None:
    """One queued Delivery per contact the INCLUDED condition holds of (a WHERE clause on the contact
    row), in address order, skipping addresses the ledger has for this campaign already. NEXT_ATTEMPT_AT is
    one time for every row, or a FirstDue of each row's own."""
    due = next_attempt_at if isinstance(next_attempt_at, FirstDue) else FirstDue(next_attempt_at)
    at = due.at if isinstance(due.at, ColumnElement) else literal(due.at, UTCDateTime())
    state = due.state if isinstance(due.state, ColumnElement) else literal(due.state)
    rows = (
        select(
            literal(campaign_id).label("campaign_id"),
            col(Contact.id),
            col(Contact.email),
            col(Contact.email_key),
            state.label("state"),
            literal(0).label("attempts"),
            at.label("next_attempt_at"),
        )
        .select_from(Contact)
        .where(included)
        .order_by(col(Contact.email_key))
    )
    if due.joined is not None:
        rows = rows.outerjoin(*due.joined)
    columns = ["campaign_id", "contact_id", "email", "email_key", "state", "attempts", "next_attempt_at"]
    if is_postgresql(session):
        _insert_postgresql(session, campaign_id, postgresql.insert(Delivery).from_select(columns, rows))
        return
    stmt = (
        sqlite.insert(Delivery)
        .from_select(columns, rows)
        .on_conflict_do_nothing(index_elements=LEDGER_KEY, index_where=BULK_ROWS)
    )
    # SQLite: a page cache that holds the ledger indexes' working set while a million rows go in
    # (the default 2 MB re-reads pages from the OS for every few rows); back to what it was afterwards
    cache = session.execute(text("PRAGMA cache_size")).scalar_one()
    session.execute(text(f"PRAGMA cache_size = -{SQLITE_FREEZE_CACHE_KIB}"))
    try:
        session.execute(stmt)
    finally:
        session.execute(text(f"PRAGMA cache_size = {int(cache)}"))


def _temporary(session: Session) -> str:
    """The name of the freeze's temporary table, in the session's own schema for such tables."""
    return ("pg_temp." if is_postgresql(session) else "temp.") + KEPT_EXCLUSIONS


def _kept(session: Session, exclusions: CompoundSelect) -> Table:
    """The exclusions written into a temporary table (a freeze reads them twice: the counts, the INSERT)."""
    session.execute(text(f"DROP TABLE IF EXISTS {_temporary(session)}"))  # one a failed freeze left behind
    table = Table(
        KEPT_EXCLUSIONS,
        MetaData(),
        Column("contact_id", Integer, nullable=False),
        Column("rank", Integer, nullable=False),
        Column("reason", String(20), nullable=False),
        Column("utf8", Integer, nullable=False),
        prefixes=["TEMPORARY"],
    )
    table.create(session.connection())
    session.execute(insert(table).from_select(["contact_id", "rank", "reason", "utf8"], exclusions))
    if is_postgresql(session):
        session.execute(text(f"ANALYZE {_temporary(session)}"))  # its size, for the plans that read it
    return table


def _drop(session: Session) -> None:
    """The freeze's temporary table goes at once: on SQLite it would stay with the pooled connection."""
    session.execute(text(f"DROP TABLE {_temporary(session)}"))


def _insert_postgresql(session: Session, campaign_id: int, statement: postgresql.Insert) -> None:
    """A plain INSERT while the campaign has no ledger yet: PostgreSQL inserts each row of an INSERT ...
    ON CONFLICT speculatively (one more probe of the unique index and one more WAL record a row). Should a
    concurrent freeze of the same campaign have committed rows meanwhile, the unique index refuses the
    statement, and it runs again skipping the rows that are there, as it does when the ledger has rows."""
    has_rows = session.execute(select(literal(1)).where(col(Delivery.campaign_id) == campaign_id).limit(1)).first()
    if has_rows is None:
        try:
            with session.begin_nested():
                session.execute(statement)
            return
        except IntegrityError:
            pass
    session.execute(statement.on_conflict_do_nothing(index_elements=LEDGER_KEY, index_where=BULK_ROWS))

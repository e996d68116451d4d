"""A send's audience when it names segments or exclusions: the chosen lists' members (by the rules of
app.audience.compile) and the contacts of the chosen segments, less every suppression, the bounce
policy's addresses, the members of the excluded lists and the contacts of the excluded segments.
An audience of lists alone is compiled by app.audience.compile as before.

Each candidate contact is counted once, and is either included or out for the first reason that
holds of it, in this order: unconfirmed / unsubscribed_list (only a contact that came through the
lists alone: a segment it is in names it directly), its suppression's reason, bounced (the policy),
excluded_list, excluded_segment. `segments` counts each chosen segment's contacts and `excluded_by_list` /
`excluded_by_segment` each exclusion's candidates that are otherwise in (a contact in two exclusions counts in both)."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, case, false, func, literal, not_, or_, select
from sqlmodel import Session, col

from app.audience.compile import (
    CompiledAudience,
    FirstDue,
    _check_lists,
    _chosen_ids,
    _for_large_sets,
    _left_by_list,
    _left_every_list,
    _left_lists,
    _not_ascii,
    _unconfirmed_only,
    compile_audience,
    freeze_into_ledger,
    write_ledger,
)
from app.audience.queries import member_counts
from app.audience.reasons import EXCLUDED_LIST, EXCLUDED_SEGMENT, EXCLUSION_REASONS, UNCONFIRMED, UNSUBSCRIBED_LIST
from app.audience.segments.store import compiled, named
from app.bounces.policy import BouncePolicy, bounced_keys
from app.models import Contact, ListMember, Segment, Suppression
from app.models.states import SuppressionReason
from app.settings import Settings

INCLUDED = "included"


@dataclass(frozen=True)
class Audience:
    """Who a send goes to: lists and segments, less excluded lists and segments."""

    list_ids: list[int] = field(default_factory=list)
    segment_ids: list[int] = field(default_factory=list)
    exclude_list_ids: list[int] = field(default_factory=list)
    exclude_segment_ids: list[int] = field(default_factory=list)

    @property
    def lists_only(self) -> bool:
        return not (self.segment_ids or self.exclude_list_ids or self.exclude_segment_ids)

    @property
    def empty(self) -> bool:
        return not (self.list_ids or self.segment_ids)


@dataclass
class _Parts:
    """The conditions on the contact row that decide the audience."""

    segments: list[tuple[Segment, ColumnElement[bool]]]
    excluded_lists: list[tuple[int, str, ColumnElement[bool]]]
    excluded_segments: list[tuple[Segment, ColumnElement[bool]]]
    in_segment: ColumnElement[bool]
    only_lists: list[tuple[str, ColumnElement[bool]]]  # reasons a lists-only contact is out
    candidate: ColumnElement[bool]
    decided: Any  # the reason, or "included"
    included: ColumnElement[bool]


def _any(clauses: list[ColumnElement[bool]]) -> ColumnElement[bool]:
    return or_(*clauses) if clauses else false()


def _member_of(list_ids: list[int]) -> ColumnElement[bool]:
    return (
        select(literal(1))
        .where(col(ListMember.contact_id) == Contact.id, col(ListMember.list_id).in_(list_ids))
        .correlate(Contact)
        .exists()
    )


def _parts(session: Session, audience: Audience, settings: Settings, now: datetime) -> _Parts:
    segments = [(s, compiled(session, s.expression, now).where) for s in named(session, audience.segment_ids)]
    excluded_segments = [
        (s, compiled(session, s.expression, now).where) for s in named(session, audience.exclude_segment_ids)
    ]
    exclude_names = _check_lists(session, audience.exclude_list_ids) if audience.exclude_list_ids else {}
    excluded_lists = [(i, name, _member_of([i])) for i, name in exclude_names.items()]
    in_segment = _any([w for _, w in segments])
    only_lists: list[tuple[str, ColumnElement[bool]]] = []
    sources = [in_segment]
    if audience.list_ids:
        only_lists.append((UNCONFIRMED, col(Contact.id).in_(_unconfirmed_only(audience.list_ids))))
        if _left_lists(session, audience.list_ids):
            only_lists.append(
                (
                    UNSUBSCRIBED_LIST,
                    col(Contact.id).in_(
                        _left_every_list(session, audience.list_ids).with_only_columns(col(Contact.id))
                    ),
                )
            )
        sources.append(col(Contact.id).in_(_chosen_ids(audience.list_ids)))
    suppressed = (
        select(col(Suppression.reason))
        .where(col(Suppression.email_key) == Contact.email_key, col(Suppression.list_id).is_(None))
        .correlate(Contact)
        .limit(1)
        .scalar_subquery()
    )
    policy = col(Contact.email_key).in_(bounced_keys(BouncePolicy.from_settings(settings), now))
    # the out reasons in their order, each (condition, reason); a suppression's reason is its own
    outs: list[tuple[Any, str]] = [(and_(not_(in_segment), c), r) for r, c in only_lists]
    outs.append((policy, SuppressionReason.BOUNCED))
    outs += [(c, EXCLUDED_LIST) for _, _, c in excluded_lists]
    outs += [(c, EXCLUDED_SEGMENT) for _, c in excluded_segments]
    lists_first, rest = outs[: len(only_lists)], outs[len(only_lists) :]
    # COALESCE stops at the first reason that holds: one probe of the suppressions a contact, not one a reason
    reasons = [case(*lists_first)] if lists_first else []
    decided = func.coalesce(*reasons, suppressed, case(*rest, else_=literal(INCLUDED)))
    # the included, as a conjunction the planners can turn into anti-joins
    suppressed_at_all = (
        select(literal(1))
        .where(col(Suppression.email_key) == Contact.email_key, col(Suppression.list_id).is_(None))
        .correlate(Contact)
        .exists()
    )
    included = and_(or_(*sources), not_(suppressed_at_all), *[not_(c) for c, _ in outs])
    return _Parts(segments, excluded_lists, excluded_segments, in_segment, only_lists, or_(*sources), decided, included)


def _included(parts: _Parts) -> ColumnElement[bool]:
    return parts.included


def _counts(session: Session, audience: Audience, parts: _Parts) -> dict[str, Any]:
    """Every count in one grouped pass over the candidates (plus the lists' sizes from their index)."""
    names = _check_lists(session, audience.list_ids) if audience.list_ids else {}
    per_list = member_counts(session, audience.list_ids) if audience.list_ids else {}
    decided = parts.decided.label("decided")
    columns: list[Any] = [decided, func.count(), func.sum(case((_not_ascii(session, col(Contact.email)), 1), else_=0))]
    columns += [func.sum(case((w, 1), else_=0)) for _, w in parts.segments]
    exclusions = [c for _, _, c in parts.excluded_lists] + [c for _, c in parts.excluded_segments]
    columns += [func.sum(case((c, 1), else_=0)) for c in exclusions]
    rows = session.execute(select(*columns).where(parts.candidate).group_by(decided)).all()
    by_reason = {str(r[0]): int(r[1]) for r in rows}
    per_segment = [sum(int(r[3 + i] or 0) for r in rows) for i in range(len(parts.segments))]
    base = 3 + len(parts.segments)
    # an exclusion's count: the candidates it takes out that nothing before it took out
    kept = [r for r in rows if str(r[0]) in (EXCLUDED_LIST, EXCLUDED_SEGMENT)]
    per_exclusion = [sum(int(r[base + i] or 0) for r in kept) for i in range(len(exclusions))]
    n_lists = len(parts.excluded_lists)
    unique = sum(by_reason.values())
    sources = {names[i]: int(per_list.get(i, 0)) for i in audience.list_ids}
    segments = {s.name: n for (s, _), n in zip(parts.segments, per_segment, strict=True)}
    candidates = sum(sources.values()) + sum(segments.values())
    left = (
        _left_by_list(session, audience.list_ids)
        if audience.list_ids and _left_lists(session, audience.list_ids)
        else {}
    )
    reasons = (*EXCLUSION_REASONS, EXCLUDED_LIST, EXCLUDED_SEGMENT)
    return {
        "sources": sources,
        "segments": segments,
        "candidates": candidates,
        "duplicates": candidates - unique,
        "excluded": {r: by_reason.get(r, 0) for r in reasons},
        "excluded_by_list": {name: n for (_, name, _), n in zip(parts.excluded_lists, per_exclusion, strict=False)},
        "excluded_by_segment": {
            s.name: n for (s, _), n in zip(parts.excluded_segments, per_exclusion[n_lists:], strict=True)
        },
        "unsubscribed_by_list": {names[i]: left.get(i, 0) for i in audience.list_ids},
        "included": by_reason.get(INCLUDED, 0),
        "needs_smtputf8": next((int(r[2] or 0) for r in rows if str(r[0]) == INCLUDED), 0),
    }


def compile_send(session: Session, audience: Audience, settings: Settings, now: datetime) -> CompiledAudience:
    """Counts for the audience and a way to stream its included contacts."""
    if audience.lists_only:
        return compile_audience(session, audience.list_ids, settings, now)
    _for_large_sets(session)
    parts = _parts(session, audience, settings, now)
    counts = _counts(session, audience, parts)
    query = select(col(Contact.id), col(Contact.email), col(Contact.email_key)).where(_included(parts))
    return CompiledAudience(counts=counts, _session=session, _included=query.order_by(col(Contact.id)))


def freeze(
    session: Session,
    campaign_id: int,
    audience: Audience,
    settings: Settings,
    now: datetime,
    next_attempt_at: "datetime | FirstDue",
) -> dict[str, Any]:
    """Insert one queued Delivery per included recipient and return the counts, as
    app.audience.compile.freeze_into_ledger does for lists (which it calls for an audience of lists)."""
    if audience.lists_only:
        return freeze_into_ledger(session, campaign_id, audience.list_ids, settings, now, next_attempt_at)
    _for_large_sets(session)
    parts = _parts(session, audience, settings, now)
    counts = _counts(session, audience, parts)
    write_ledger(session, campaign_id, _included(parts), next_attempt_at)
    return counts

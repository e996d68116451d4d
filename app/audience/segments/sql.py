"""A segment's tree compiled to one SQLAlchemy Core condition on the contact row.

Only bound parameters carry what the expression says (values, list ids, a custom field's JSON
path); the SQL text is built from this module's own words. Each condition is two-valued: a contact
without a value is simply not `= 'DE'`, and so is in `not (country = 'DE')` and `country != 'DE'`.
Custom field values are read from the contact's JSON attributes with the extraction of each
database, and compared only when they are stored with the field's type, so a stray value of another
type is "empty" on both databases alike."""

import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Numeric, and_, case, cast, false, func, literal, not_, or_, select, true
from sqlmodel import Session, col

from app.audience.segments.fields import BUILTINS
from app.audience.segments.parse import SegmentError
from app.audience.segments.tree import ENGAGEMENT, Condition, Event, Group, Node, Not, Value
from app.db import is_postgresql
from app.models import Bounce, Contact, Delivery, ListMember, MailingList, Suppression, TrackingHit
from app.models.states import BounceKind, MemberStatus, SuppressionReason
from app.models.types import UTCDateTime
from app.tracking import engagement

Clause = ColumnElement[bool]
# JSON types as each database names them, per custom field type
_SQLITE_TYPES = {"text": ("text",), "choice": ("text",), "date": ("text",), "number": ("integer", "real")}
_PG_TYPES = {"text": ("string",), "choice": ("string",), "date": ("string",), "number": ("number",)}


@dataclass
class Context:
    """What compiling needs besides the tree: the database, the field types, the lists by name, now."""

    postgresql: bool
    kinds: dict[str, str]  # field name -> kind (built-ins and custom)
    lists: dict[str, int]  # list name -> id
    now: datetime
    source: str = ""
    untracked: dict[int, str] = field(default_factory=dict)  # campaign id -> anonymous / none

    @classmethod
    def of(cls, session: Session, custom_kinds: dict[str, str], now: datetime, source: str = "") -> "Context":
        lists = dict(session.execute(select(col(MailingList.name), col(MailingList.id))).tuples().all())
        kinds = {**custom_kinds, **BUILTINS}
        lists_by_name = {str(k): int(v) for k, v in lists.items()}
        return cls(is_postgresql(session), kinds, lists_by_name, now, source, engagement.untracked(session))


def compile_node(node: Node, ctx: Context) -> Clause:
    if isinstance(node, Group):
        parts = [compile_node(i, ctx) for i in node.items]
        return and_(*parts) if node.op == "and" else or_(*parts)
    if isinstance(node, Not):
        return not_(compile_node(node.item, ctx))
    if isinstance(node, Event):
        return _event(node, ctx)
    return _condition(node, ctx)


def _since(ctx: Context, days: int) -> datetime:
    return ctx.now - timedelta(days=days)


@dataclass(frozen=True)
class EventRows:
    """The rows of a contact's history an event condition asks about: in `model` (read from `source`,
    the model's table or a join), those with `key` equal to the contact's email_key and every `where`;
    `at` is when each happened."""

    model: Any
    source: Any
    key: Any
    at: Any
    where: list[Any]


def event_rows(node: Event, ctx: Context) -> EventRows:
    model: Any
    key: Any
    campaign: Any
    where: list[Any]
    if node.event in ENGAGEMENT:
        return _hit_rows(node, ctx)
    if node.event == "received":  # a ledger row that went out (sent, or sent and bounced later)
        model, key, at, campaign = Delivery, col(Delivery.email_key), col(Delivery.sent_at), col(Delivery.campaign_id)
        where = [at.is_not(None)]
    elif node.event == "unsubscribed":  # from every list or from one
        model, key, at, campaign = (
            Suppression,
            col(Suppression.email_key),
            col(Suppression.created_at),
            col(Suppression.campaign_id),
        )
        where = [col(Suppression.reason) == SuppressionReason.UNSUBSCRIBED]
    else:
        model, key, at, campaign = Bounce, col(Bounce.email_key), col(Bounce.created_at), col(Bounce.campaign_id)
        kind = BounceKind.BOUNCE if node.event == "bounced" else BounceKind.COMPLAINT
        where = [col(Bounce.kind) == kind]
        if node.hard is not None:
            where.append(col(Bounce.hard).is_(node.hard))
        if node.reason is not None:
            where.append(col(Bounce.reason) == node.reason)
    if node.campaign is not None:
        where.append(campaign == node.campaign)
    if node.days is not None:
        where.append(at >= literal(_since(ctx, node.days), UTCDateTime()))
    return EventRows(model, model.__table__, key, at, where)


def _hit_rows(node: Event, ctx: Context) -> EventRows:
    """opened / clicked: the campaign named must have tracked per contact, or the condition could hold
    for nobody (and its negation for everyone) without saying so."""
    if node.campaign is not None and node.campaign in ctx.untracked:
        mode = ctx.untracked[node.campaign]
        how = "counts opens and clicks without naming anyone" if mode == "anonymous" else "tracks no opens or clicks"
        raise SegmentError(ctx.source, node.offset, f"campaign {node.campaign} {how}, so who {node.event} is not known")
    hits = engagement.hits(node.event == "clicked", node.campaign, node.link, node.machines)
    where = list(hits.where)
    if node.days is not None:
        where.append(hits.at >= literal(_since(ctx, node.days), UTCDateTime()))
    return EventRows(TrackingHit, hits.source, hits.key, hits.at, where)


def _event(node: Event, ctx: Context) -> Clause:
    rows = event_rows(node, ctx)
    return (
        select(literal(1))
        .select_from(rows.source)
        .where(rows.key == Contact.email_key, *rows.where)
        .correlate(Contact)
        .exists()
    )


def _condition(node: Condition, ctx: Context) -> Clause:
    kind = ctx.kinds[node.field]
    if node.field == "list":
        return _membership(node, _list_ids(node, ctx))
    if node.field == "source":
        return _with_op(node, lambda v: _member_where(col(ListMember.source) == v))
    if node.field == "consent":
        return _with_op(node, _consent)
    if node.field == "created":
        return _ordered(node, col(Contact.created_at), ctx, stamp=True)
    if node.field in BUILTINS:
        value = (
            _domain(ctx)
            if node.field == "domain"
            else {
                "address": col(Contact.email),
                "first_name": col(Contact.first_name),
                "last_name": col(Contact.last_name),
                "language": col(Contact.language),
            }[node.field]
        )
        return _typed(node, value, kind, ctx)
    raw = _raw_attribute(node.field, ctx) if kind in ("text", "choice") else None
    return _typed(node, _attribute(node.field, kind, ctx), kind, ctx, raw)


def _list_ids(node: Condition, ctx: Context) -> list[int]:
    ids = []
    for v in node.values:
        if isinstance(v, int) and not isinstance(v, bool):
            if v not in ctx.lists.values():
                raise SegmentError(ctx.source, node.offset, f"no list with id {v}")
            ids.append(v)
        elif str(v) in ctx.lists:
            ids.append(ctx.lists[str(v)])
        else:
            raise SegmentError(ctx.source, node.offset, f"no list named '{v}'")
    return ids


def _member_where(*where: Any) -> Clause:
    return select(literal(1)).where(col(ListMember.contact_id) == Contact.id, *where).correlate(Contact).exists()


def _membership(node: Condition, ids: list[int]) -> Clause:
    """Subscribed to one of the lists (an unconfirmed signup is not yet on it)."""
    on = _member_where(col(ListMember.list_id).in_(ids), col(ListMember.status) == MemberStatus.SUBSCRIBED)
    return not_(on) if node.op in ("!=", "not in") else on


def _consent(state: Value) -> Clause:
    if state == "unconfirmed":
        return _member_where(col(ListMember.status) == MemberStatus.UNCONFIRMED)
    unsubscribed = (
        select(literal(1))
        .where(
            col(Suppression.email_key) == Contact.email_key, col(Suppression.reason) == SuppressionReason.UNSUBSCRIBED
        )
        .correlate(Contact)
        .exists()
    )
    if state == "unsubscribed":
        return unsubscribed
    return and_(_member_where(col(ListMember.status) == MemberStatus.SUBSCRIBED), not_(unsubscribed))


def _with_op(node: Condition, one: Any) -> Clause:
    """= / != / in / not in, for conditions made per value."""
    clause = or_(*[one(v) for v in node.values])
    return not_(clause) if node.op in ("!=", "not in") else clause


def _domain(ctx: Context) -> Any:
    email = col(Contact.email)
    if ctx.postgresql:
        return func.split_part(email, "@", -1)
    return func.substr(email, func.instr(email, "@") + 1)


def _path(name: str) -> str:
    return '$."' + name + '"'  # a field name is letters, digits and _ (app.audience.fields.NAME)


def _raw_attribute(name: str, ctx: Context) -> Any:
    """The custom field's value as text (or a number), whatever JSON type it is stored with."""
    attributes = col(Contact.attributes)
    return attributes.op("->>")(name) if ctx.postgresql else func.json_extract(attributes, _path(name))


def _attribute(name: str, kind: str, ctx: Context) -> Any:
    """The custom field's value when stored with its type, else NULL."""
    attributes = col(Contact.attributes)
    if ctx.postgresql:
        element = attributes.op("->")(name)
        raw = attributes.op("->>")(name)
        typeof = func.json_typeof(element)
        if kind == "boolean":
            return case((typeof == "boolean", raw == "true"))
        if kind == "number":
            return case((typeof == "number", cast(raw, Numeric)))
        return case((typeof == "string", raw))
    path = _path(name)
    typeof = func.json_type(attributes, path)
    if kind == "boolean":
        return case((typeof == "true", true()), (typeof == "false", false()))
    return case((typeof.in_(_SQLITE_TYPES[kind]), func.json_extract(attributes, path)))


def _true(clause: Any) -> Clause:
    """The condition, false where it is NULL (a missing value): each condition is two-valued."""
    return func.coalesce(clause, false())


def _typed(node: Condition, value: Any, kind: str, ctx: Context, raw: Any = None) -> Clause:
    """VALUE is referred to once per condition: on PostgreSQL each reference to a JSON attribute parses
    the contact's attributes again. RAW, for a custom text field, is its extraction without the type
    check: enough for = and in when no value given could be the text of a JSON number, boolean or null."""
    op = node.op
    if op in ("is empty", "is not empty"):
        empty = func.coalesce(value, "") == "" if kind in ("text", "choice") else value.is_(None)
        return empty if op == "is empty" else not_(empty)
    if kind in ("number", "date"):
        if op in ("!=", "not in"):  # the negation of = / in: a contact without a value is in it
            positive = Condition(node.field, "=" if op == "!=" else "in", node.values, node.offset)
            return not_(_true(_ordered(positive, value, ctx, stamp=False)))
        return _true(_ordered(node, value, ctx, stamp=False))
    if op == "contains":
        text = str(node.values[0])
        found = func.strpos(value, text) if ctx.postgresql else func.instr(value, text)
        return _true(found > 0)
    if kind == "boolean":
        clause = _true(value == bool(node.values[0]))
        return not_(clause) if op == "!=" else clause
    values = [_text(v) for v in node.values if _text(v) != ""]  # an empty text is no value: never equal
    if raw is not None and not any(_json_literal(v) for v in values):
        value = raw
    clause = _true(value.in_(values) if len(values) > 1 else value == values[0]) if values else false()
    return not_(clause) if op in ("!=", "not in") else clause


def _json_literal(text: str) -> bool:
    """Whether the text reads as a JSON value that is not a string (12, true, null, [1]): then the raw
    extraction of such a value could equal it, and the type has to be checked."""
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def _text(v: Value) -> str:
    return v if isinstance(v, str) else str(v)


def _ordered(node: Condition, value: Any, ctx: Context, stamp: bool) -> Clause:
    """Comparisons of numbers and dates; a date compares by day (a timestamp: from its midnight UTC)."""
    op = node.op
    if op == "within":
        days = int(node.values[0])  # type: ignore[arg-type]
        low: Any = _since(ctx, days) if stamp else (ctx.now.date() - timedelta(days=days)).isoformat()
        high: Any = ctx.now if stamp else ctx.now.date().isoformat()
        return and_(value >= _bound(low, stamp), value <= _bound(high, stamp))
    if op in ("in", "not in"):
        clause = or_(*[value == _number(v) for v in node.values])  # one bound value each: 10 and 55.5 keep their types
        return not_(clause) if op == "not in" else clause
    v = node.values[0]
    if isinstance(v, date):
        if stamp:  # a day is [midnight, next midnight)
            start = datetime.combine(v, time(), UTC)
            end = start + timedelta(days=1)
            day = {"=": and_(value >= _bound(start, True), value < _bound(end, True))}
            bounds = {"<": value < _bound(start, True), "<=": value < _bound(end, True)}
            bounds |= {">": value >= _bound(end, True), ">=": value >= _bound(start, True)}
            if op == "!=":
                return not_(day["="])
            return day.get(op, bounds.get(op, true()))
        v = v.isoformat()
    else:
        v = _number(v)
    return {
        "=": value == v,
        "!=": value != v,
        "<": value < v,
        "<=": value <= v,
        ">": value > v,
        ">=": value >= v,
    }[op]


def _bound(value: Any, stamp: bool) -> Any:
    return literal(value, UTCDateTime()) if stamp else literal(value)


def _number(v: Value) -> Any:
    return v if isinstance(v, int | float) and not isinstance(v, bool) else str(v)

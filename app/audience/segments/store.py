"""Saved segments: create, change, remove, page through them, and preview an expression (how many
contacts it matches and a few of them). Every expression is parsed and compiled before it is saved,
so a stored segment always compiles (unless a list it names is deleted later; compiling says so)."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlmodel import Session, col

from app.audience import fields as custom_fields
from app.audience.segments.parse import SegmentError, parse
from app.audience.segments.sql import Context, compile_node
from app.audience.segments.tree import Node, to_text
from app.db import save_given
from app.i18n import gettext as _
from app.keyset import after_name_id, fetch
from app.models import Contact, Segment, utcnow
from app.models.types import NAME_LENGTH, TEXT_LENGTH
from app.sending.refused import Refused

SAMPLE = 10


class SegmentProblem(Refused):
    """A segment that cannot be saved or used: `field` names the input, `position` the place in the
    expression (None when the problem is not in it); `status` 409 for a name taken."""

    def __init__(self, field: str, message: str, error: SegmentError | None = None, status: int = 422) -> None:
        super().__init__(field, message, status)
        self.message = message
        self.position = None if error is None else {"offset": error.offset, "line": error.line, "column": error.column}


class UnknownSegment(LookupError):
    """A segment id that does not exist; the message names it."""


@dataclass(frozen=True)
class Compiled:
    tree: Node
    where: ColumnElement[bool]


def compiled(session: Session, expression: str, now: datetime) -> Compiled:
    """The expression's tree and its condition on the contact row; raises SegmentProblem."""
    custom = custom_fields.definitions(session)
    try:
        tree = parse(expression, custom)
        ctx = Context.of(session, {d.name: d.type for d in custom.values()}, now, expression)
        return Compiled(tree, compile_node(tree, ctx))
    except SegmentError as exc:
        raise SegmentProblem("expression", str(exc), exc) from None


def _check(session: Session, name: str, description: str, expression: str) -> str:
    if not name.strip():
        raise SegmentProblem("name", _("fill this in"))
    if len(name.strip()) > NAME_LENGTH:
        raise SegmentProblem("name", _("too long: at most %(count)s characters", count=NAME_LENGTH))
    if len(description) > TEXT_LENGTH:
        raise SegmentProblem("description", _("too long: at most %(count)s characters", count=TEXT_LENGTH))
    if not expression.strip():
        raise SegmentProblem("expression", _("fill this in"))
    return to_text(compiled(session, expression, utcnow()).tree)


def _name_taken(session: Session, name: str, other_than: int | None) -> None:
    query = select(col(Segment.id)).where(col(Segment.name) == name)
    if other_than is not None:
        query = query.where(col(Segment.id) != other_than)
    if session.execute(query).first() is not None:
        raise SegmentProblem("name", _('a segment named "%(name)s" already exists', name=name), status=409)


def change(
    session: Session,
    segment: Segment,
    *,
    name: str | None = None,
    expression: str | None = None,
    description: str | None = None,
) -> None:
    """Change what is given; raises SegmentProblem. The caller commits."""
    canonical = _check(
        session,
        name if name is not None else segment.name,
        description if description is not None else segment.description,
        expression if expression is not None else segment.expression,
    )
    if name is not None:
        _name_taken(session, name.strip(), segment.id)
    save_given(
        session,
        segment,
        name=name and name.strip(),
        description=description if description is None else description.strip(),
        expression=canonical if expression is not None else None,
        updated_at=utcnow(),
    )


def create(session: Session, name: str, expression: str, description: str = "") -> Segment:
    """A new segment, its expression kept in canonical form; raises SegmentProblem. The caller commits."""
    canonical = _check(session, name, description, expression)
    _name_taken(session, name.strip(), None)
    segment = Segment(name=name.strip(), description=description.strip(), expression=canonical)
    session.add(segment)
    session.flush()
    return segment


def remove(session: Session, segment: Segment) -> None:
    session.delete(segment)


def get(session: Session, segment_id: int) -> Segment | None:
    return session.get(Segment, segment_id)


def by_name(cursor: str | None) -> Any:
    return after_name_id(select(Segment), col(Segment.name), col(Segment.id), cursor)


def segments_page(session: Session, limit: int, cursor: str | None) -> tuple[list[Segment], str | None]:
    return fetch(session, by_name(cursor), limit, key=lambda s: (s.name, s.id))


def all_segments(session: Session) -> Sequence[Segment]:
    """Every segment by name, for a chooser (segments are few; contacts are not)."""
    return session.execute(select(Segment).order_by(col(Segment.name))).scalars().all()


def names(session: Session) -> dict[int, str]:
    """Segment id -> name, to show a campaign's segments."""
    rows = session.execute(select(col(Segment.id), col(Segment.name))).tuples()
    return {int(i): str(n) for i, n in rows}


def named(session: Session, ids: Sequence[int]) -> list[Segment]:
    """The segments of these ids, in the order given; raises UnknownSegment naming the missing ones."""
    ids = list(dict.fromkeys(ids))
    found = {s.id: s for s in session.execute(select(Segment).where(col(Segment.id).in_(ids))).scalars()}
    missing = [i for i in ids if i not in found]
    if missing:
        raise UnknownSegment(f"no segment with id {', '.join(map(str, missing))}")
    return [found[i] for i in ids]


def by_names(session: Session, names: Sequence[str]) -> list[Segment]:
    """The segments of these names (the CLI's --segment); raises UnknownSegment."""
    found = {s.name: s for s in session.execute(select(Segment).where(col(Segment.name).in_(names))).scalars()}
    missing = [n for n in names if n not in found]
    if missing:
        raise UnknownSegment(f"no segment named {', '.join(missing)}")
    return [found[n] for n in names]


@dataclass(frozen=True)
class Preview:
    expression: str  # canonical
    count: int
    sample: list[str]


def preview(session: Session, expression: str, now: datetime, sample: int = SAMPLE) -> Preview:
    """How many contacts the expression matches now, and the first few addresses; raises SegmentProblem."""
    c = compiled(session, expression, now)
    count = session.execute(select(func.count()).select_from(Contact).where(c.where)).scalar_one()
    emails = (
        session.execute(select(col(Contact.email)).where(c.where).order_by(col(Contact.id)).limit(sample))
        .scalars()
        .all()
    )
    return Preview(to_text(c.tree), int(count), list(emails))

"""The sweep: contacts who meet an active automation's trigger enter it, contacts who no longer may get its
mail leave it, and every due position moves on, in batches of set-based SQL.

A batch claims due positions of one step and moves them on in one UPDATE (PostgreSQL: FOR UPDATE SKIP LOCKED,
so any number of sweeps may run at once; SQLite: the write lock taken at BEGIN), then carries the step out for
them in the same transaction: a crash before the commit leaves them where they were, after it they are past the
step. A send step's ledger rows are written skipping the addresses the step's campaign has already (the ledger's
unique (campaign, address)), so no restart, replay or concurrent sweep can send a contact a step twice."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Engine,
    Integer,
    Select,
    and_,
    delete,
    exists,
    literal,
    not_,
    or_,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from app.addresses import InvalidAddress, normalise
from app.audience.compile import write_ledger
from app.automations import conditions, steps
from app.automations.store import steps_of
from app.db import dialect_insert, in_values, is_postgresql, session_scope
from app.models import (
    Automation,
    AutomationPosition,
    AutomationStep,
    ConsentEvent,
    Contact,
    Delivery,
    ListMember,
    Suppression,
    utcnow,
)
from app.models.states import DeliveryState, MemberStatus
from app.models.types import UTCDateTime
from app.sending.refused import Refused
from app.webhooks.events import emit_to

POSTGRES_BATCH = 50_000
SQLITE_BATCH = 5_000
ANALYZE_AFTER = 10_000  # entries in one go that make the table's statistics stale
P = AutomationPosition


@dataclass
class Swept:
    entered: int = 0
    exited: int = 0
    advanced: int = 0


def sweep(engine: Engine, now: datetime | None = None, batch: int | None = None) -> Swept:
    """One sweep over every active automation (the scheduler's job; safe to run in several processes)."""
    now = now or utcnow()
    out = Swept()
    with session_scope(engine) as session:
        active = list(session.execute(select(Automation).where(col(Automation.state) == "active")).scalars())
        size = batch or (POSTGRES_BATCH if is_postgresql(session) else SQLITE_BATCH)
    for automation in active:
        with session_scope(engine) as session:
            ordered = steps_of(session, automation.id or 0)
            if not ordered:
                continue
            entered = enter_by_trigger(session, automation, ordered, now)
        if entered >= ANALYZE_AFTER and is_postgresql(engine):  # the planner must know the new rows' numbers
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("ANALYZE automation_position"))
        out.entered += entered
        with session_scope(engine) as session:
            out.exited += exit_the_unreachable(session, automation, now)
        for i in range(len(ordered)):
            cursor: Cursor = None
            while True:
                with session_scope(engine) as session:
                    moved, cursor = advance_batch(session, automation, ordered, i, now, size, cursor)
                out.advanced += moved
                if moved < size:
                    break
    return out


def _enter(
    session: Session, automation: Automation, ordered: Sequence[AutomationStep], contact_ids: Any, now: datetime
) -> int:
    """Positions at the first step for the contacts CONTACT_IDS selects (a contact enters once)."""
    at = steps.arrival(ordered, 0, now)
    rows = select(
        literal(automation.id).label("automation_id"),
        contact_ids.c.contact_id,
        literal(at["step_id"], Integer).label("step_id"),
        literal(at["state"]).label("state"),
        literal(at["due_at"], UTCDateTime()).label("due_at"),
        literal(now, UTCDateTime()).label("entered_at"),
        literal(now, UTCDateTime()).label("updated_at"),
    ).where(~exists().where(col(P.automation_id) == automation.id, col(P.contact_id) == contact_ids.c.contact_id))
    columns = ["automation_id", "contact_id", "step_id", "state", "due_at", "entered_at", "updated_at"]
    stmt = dialect_insert(session)(AutomationPosition).from_select(columns, rows)
    if is_postgresql(session):  # a plain INSERT: ON CONFLICT inserts each row speculatively, a probe more a row
        try:
            with session.begin_nested():
                return len(session.execute(stmt.returning(col(P.id))).all())
        except IntegrityError:  # a concurrent sweep entered some of them meanwhile: skip those
            pass
    stmt = stmt.on_conflict_do_nothing(index_elements=["automation_id", "contact_id"]).returning(col(P.id))
    return len(session.execute(stmt).all())


def enter_by_trigger(session: Session, automation: Automation, ordered: Sequence[AutomationStep], now: datetime) -> int:
    """The contacts who met the trigger since the automation was activated and are not in it yet."""
    since = automation.activated_at or now
    trigger = automation.trigger
    who: Select[Any]
    if trigger == "list_joined":
        who = select(col(ListMember.contact_id).label("contact_id")).where(
            col(ListMember.list_id) == automation.list_id,
            col(ListMember.status) == MemberStatus.SUBSCRIBED,
            col(ListMember.added_at) >= since,
        )
    elif trigger == "optin_confirmed":
        who = select(col(ConsentEvent.contact_id).label("contact_id")).where(
            col(ConsentEvent.list_id) == automation.list_id,
            col(ConsentEvent.action) == "confirm",
            col(ConsentEvent.at) >= since,
        )
    elif trigger == "campaign_sent":
        who = select(col(Delivery.contact_id).label("contact_id")).where(
            col(Delivery.campaign_id) == automation.campaign_id,
            col(Delivery.state) == DeliveryState.SENT,
            col(Delivery.contact_id).is_not(None),
        )
    elif trigger in ("segment_entered", "date_reached"):
        where = conditions.trigger_condition(session, automation, now)
        if where is None:
            return 0
        who = select(col(Contact.id).label("contact_id")).where(where)
    else:  # event: the API enters contacts one by one
        return 0
    return _enter(session, automation, ordered, who.distinct().subquery(), now)


def enter_contact(session: Session, automation: Automation, contact_id: int, now: datetime) -> bool:
    """One contact enters (an event the CMS posted); False when they were in it already. The caller commits."""
    ordered = steps_of(session, automation.id or 0)
    if not ordered:
        return False
    who = select(literal(contact_id, Integer).label("contact_id")).subquery()
    return _enter(session, automation, ordered, who, now) > 0


def enter_on_event(session: Session, event: str, email: str, now: datetime) -> list[int]:
    """The contact with this address enters every active automation the event starts (once each); returns
    their ids. Raises Refused naming `email` for an address no contact has. The caller commits."""
    try:
        key = normalise(email).key
    except InvalidAddress as exc:
        raise Refused("email", str(exc)) from None
    contact_id = session.execute(select(col(Contact.id)).where(col(Contact.email_key) == key)).scalar()
    if contact_id is None:
        raise Refused("email", "no contact has this address")
    started = session.execute(
        select(Automation).where(
            col(Automation.state) == "active", col(Automation.trigger) == "event", col(Automation.event) == event
        )
    ).scalars()
    return [a.id for a in started if a.id is not None and enter_contact(session, a, contact_id, now)]


def exit_the_unreachable(session: Session, automation: Automation, now: datetime) -> int:
    """Due positions of contacts who may not get its mail any more leave: suppressed (unsubscribed,
    bounced hard, complained) from every list or from the trigger's list, no longer on the trigger's list or
    in its segment, or removed."""
    scope: ColumnElement[bool] = col(Suppression.list_id).is_(None)
    if automation.list_id is not None:
        scope = or_(scope, col(Suppression.list_id) == automation.list_id)
    reason = (
        select(col(Suppression.reason))
        .join(Contact, col(Contact.email_key) == col(Suppression.email_key))
        .where(col(Contact.id) == col(P.contact_id), scope)
        .limit(1)
        .correlate(AutomationPosition)
        .scalar_subquery()
    )
    # only the positions due now: one waiting leaves when its wait is over, before anything more is done for it
    active = and_(col(P.automation_id) == automation.id, col(P.state) == "active", col(P.due_at) <= now)
    left = 0
    for why, condition in _gone(session, automation, now, reason):
        result = session.execute(
            update(AutomationPosition)
            .where(active, condition)
            .values(state="exited", exit_reason=why, due_at=None, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        left += int(result.rowcount or 0)  # type: ignore[attr-defined]  # an UPDATE returns a CursorResult
    return left


def _gone(session: Session, automation: Automation, now: datetime, reason: Any) -> list[tuple[Any, Any]]:
    """(why, condition on the position) for each way out."""
    out: list[tuple[Any, Any]] = [
        ("contact removed", ~exists().where(col(Contact.id) == col(P.contact_id))),
        (literal("suppressed: ").concat(reason), reason.is_not(None)),
    ]
    if automation.trigger in ("list_joined", "optin_confirmed") and automation.list_id is not None:
        member = exists().where(
            col(ListMember.list_id) == automation.list_id,
            col(ListMember.contact_id) == col(P.contact_id),
            col(ListMember.status) == MemberStatus.SUBSCRIBED,
        )
        out.append(("left the list", not_(member)))
    if automation.trigger == "segment_entered":
        where = conditions.trigger_condition(session, automation, now)
        if where is not None:
            inside = select(col(Contact.id)).where(where)
            out.append(("left the segment", col(P.contact_id).not_in(inside)))
    return out


Cursor = tuple[datetime, int] | None


def advance_batch(
    session: Session,
    automation: Automation,
    ordered: Sequence[AutomationStep],
    index: int,
    now: datetime,
    size: int,
    after: Cursor = None,
) -> tuple[int, Cursor]:
    """Carry out step ORDERED[INDEX] for up to SIZE due positions past the cursor AFTER (due time, id) and move
    them on; returns how many moved and the cursor for the next batch. The claim reads the due index from the
    cursor on, so a sweep never reads again the entries of positions it has already moved. The move appends the
    step to their history, and the step's work (the ledger rows of a send) commits with it: a batch is done
    wholly or not at all."""
    step = ordered[index]
    claim = select(col(P.id), col(P.contact_id), col(P.due_at)).where(
        col(P.automation_id) == automation.id,
        col(P.step_id) == step.id,
        col(P.state) == "active",
        col(P.due_at) <= now,
    )
    if after is not None:
        claim = claim.where(tuple_(col(P.due_at), col(P.id)) > tuple_(literal(after[0], UTCDateTime()), after[1]))
    claim = claim.order_by(col(P.due_at), col(P.id)).limit(size)
    if is_postgresql(session):
        claim = claim.with_for_update(skip_locked=True)
    rows = session.execute(claim).all()
    if not rows:
        return 0, after
    ids = [int(r[0]) for r in rows]
    trail = col(P.history) + f"{step.id}@{now:%Y-%m-%dT%H:%M:%S};"
    session.execute(
        update(AutomationPosition)
        .where(in_values(session, col(P.id), ids, Integer))
        .values(**steps.arrival(ordered, index + 1, now), history=trail, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    jumped = _carry_out(session, automation, ordered, index, [(int(i), int(c)) for i, c, _ in rows], now)
    if jumped:
        target = steps.jump_target(ordered, step)
        if target is None:
            values = {"step_id": None, "due_at": None, "state": "exited", "exit_reason": "branch: condition not met"}
        else:
            values = steps.arrival(ordered, list(ordered).index(target), now)
        session.execute(
            update(AutomationPosition)
            .where(in_values(session, col(P.id), jumped, Integer))
            .values(**values)
            .execution_options(synchronize_session=False)
        )
    last = rows[-1]
    return len(rows), (last[2], int(last[0]))


def _carry_out(
    session: Session,
    automation: Automation,
    ordered: Sequence[AutomationStep],
    index: int,
    moved: list[tuple[int, int]],
    now: datetime,
) -> list[int]:
    """Do the step for the (position, contact) pairs MOVED; returns the positions a branch sends elsewhere."""
    step = ordered[index]
    options = step.options
    contact_ids = [c for _, c in moved]
    who = in_values(session, col(Contact.id), contact_ids, Integer)
    if step.kind == steps.SEND and step.campaign_id is not None:
        write_ledger(session, step.campaign_id, who, now)
    elif step.kind == steps.BRANCH:
        where = conditions.branch_condition(session, automation, ordered, index, now)
        held = set(session.execute(select(col(Contact.id)).where(who, col(Contact.id).in_(where))).scalars())
        return [p for p, c in moved if c not in held]
    elif step.kind == steps.LIST_ADD:
        rows = select(
            literal(options["list_id"]).label("list_id"),
            col(Contact.id),
            literal("automation").label("source"),
            literal(MemberStatus.SUBSCRIBED).label("status"),
            literal(now, UTCDateTime()).label("added_at"),
        ).where(who)
        stmt = dialect_insert(session)(ListMember).from_select(
            ["list_id", "contact_id", "source", "status", "added_at"], rows
        )
        session.execute(stmt.on_conflict_do_nothing(index_elements=["list_id", "contact_id"]))
    elif step.kind == steps.LIST_REMOVE:
        session.execute(
            delete(ListMember).where(
                col(ListMember.list_id) == options["list_id"],
                in_values(session, col(ListMember.contact_id), contact_ids, Integer),
            )
        )
    elif step.kind == steps.WEBHOOK:
        people = session.execute(select(col(Contact.id), col(Contact.email)).where(who)).all()
        items = [{"automation_id": automation.id, "step_id": step.id, "contact_id": c, "email": e} for c, e in people]
        emit_to(session, options["endpoint_id"], "automation.step", items, now)
    return []

"""The ledger as a queue: claim due rows with a lease, record each send result on its row, and
read a campaign's progress. All SQL the worker runs lives here.

A claim moves the row's `next_attempt_at` to the end of the lease, so a claimed row is simply not
due until its lease runs out: a worker killed with -9 loses nothing, its rows come due again. The
price is the at-least-once guarantee: a message whose send completed but whose result was not yet
recorded when the worker died is sent again, so duplicates are bounded by the batch in flight."""

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Integer, String, and_, bindparam, case, exists, func, literal, select, union_all, update
from sqlmodel import Session, col

from app.bounces.policy import BouncePolicy
from app.bounces.writer import record_findings, send_failure_row
from app.db import in_values, insert_rows, is_postgresql, update_rows
from app.models import Campaign, Contact, Delivery, DeliveryAttempt, ListMember, MessageContent, Suppression
from app.models.states import CampaignKind, CampaignState, DeliveryState
from app.models.types import TEXT_LENGTH
from app.sending.retry import next_attempt_at
from app.sending.window import Timing
from app.settings import Settings
from app.webhooks.events import emit_completed, emit_paused

DUE_STATES = DeliveryState.DUE
# outcome kinds besides the delivery states sent, deferred and failed
RELEASED = "released"  # back to the queue, not an attempt
SUPPRESSED = "suppressed"  # cancelled: the address was suppressed after launch
_LEASE_FREE = {"lease_until": None, "lease_owner": None}
_delivery = Delivery.__table__  # type: ignore[attr-defined]  # SQLModel declares no __table__


@dataclass
class Claimed:
    id: int
    campaign_id: int
    contact_id: int | None
    email: str
    email_key: str
    attempts: int
    first_attempt_at: datetime | None
    variant: int | None = None  # an A/B-tested campaign's variant
    verp_token: str | None = None  # set when the message is composed, stored with the result
    message_id: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    attributes: dict[str, Any] | None = None
    content: MessageContent | None = None  # a transactional message's (app.sending.transactional)


@dataclass
class Outcome:
    """What happened to one claimed row. kind: sent | deferred | failed | released (back to the queue,
    not an attempt) | suppressed (cancelled: the address was suppressed after launch)."""

    row: Claimed
    kind: str
    code: int | None = None
    text: str = ""
    at: datetime | None = None
    # released by pacing: its receiving domain must wait, so no other relay may take it meanwhile
    paced: bool = False
    relay: str = ""  # the relay's name (its metrics label) when one took the row


def sending_campaign_ids(session: Session) -> list[int]:
    return [c.id for c in sending_campaigns(session)]


@dataclass(frozen=True)
class Sending:
    """A sending campaign as the worker needs it between batches: its id, when it last changed (a
    cached Composer is built anew after a change), whether it shows a relay outage, whether it is a
    transactional stream (its rows go first) and when its messages may go out."""

    id: int
    updated_at: datetime
    relay_unreachable: bool
    transactional: bool = False
    timing: Timing = Timing()


def sending_campaigns(session: Session) -> list[Sending]:
    rows = session.execute(
        select(
            col(Campaign.id),
            col(Campaign.updated_at),
            col(Campaign.relay_unreachable_since),
            col(Campaign.kind),
            col(Campaign.send_window),
            col(Campaign.local_time),
        ).where(col(Campaign.state) == CampaignState.SENDING)
    ).all()
    return [Sending(i, u, r is not None, k == CampaignKind.TRANSACTIONAL, Timing.of(w, t)) for i, u, r, k, w, t in rows]


def timings(session: Session, campaign_ids: set[int]) -> dict[int, Timing]:
    """When each of these campaigns' messages may go out (those with a window or local time only)."""
    if not campaign_ids:
        return {}
    rows = session.execute(
        select(col(Campaign.id), col(Campaign.send_window), col(Campaign.local_time)).where(
            col(Campaign.id).in_(campaign_ids),
            (col(Campaign.send_window).is_not(None)) | (col(Campaign.local_time).is_not(None)),
        )
    ).all()
    return {i: Timing.of(w, t) for i, w, t in rows}


def claim(
    session: Session,
    campaign_ids: list[int],
    limit: int,
    lease: timedelta,
    owner: str,
    now: datetime,
    first: Collection[int] = (),
) -> list[Claimed]:
    """Lease up to `limit` due rows of the given campaigns, the due rows of the FIRST ones (the transactional
    streams) before any other. PostgreSQL skips rows other workers hold; on SQLite the write lock taken at
    BEGIN makes the claim atomic. The caller commits."""
    if not campaign_ids:
        return []
    pg = is_postgresql(session)
    # One branch per campaign and due state, each read in order from the (campaign, state, due time) index
    # and stopped after `limit` rows; the union is ordered and cut again. A single query over all of them
    # would read and sort every due row of the campaigns at every claim (a million-row launch: the whole
    # ledger, each time).
    branches = []
    for campaign_id in sorted(campaign_ids):
        for state in DUE_STATES:
            branch = (
                select(col(Delivery.id), col(Delivery.next_attempt_at))
                .where(
                    col(Delivery.campaign_id) == campaign_id,
                    col(Delivery.state) == state,
                    col(Delivery.next_attempt_at) <= now,
                )
                .order_by(col(Delivery.next_attempt_at))
                .limit(limit)
            )
            if pg:  # rows other workers are claiming this moment are theirs
                branch = branch.with_for_update(skip_locked=True)
            sub = branch.subquery()
            rank = literal(0 if campaign_id in first else 1).label("rank")
            branches.append(select(sub.c.id, sub.c.next_attempt_at, rank))
    both = union_all(*branches).subquery() if len(branches) > 1 else branches[0].subquery()
    due = select(both.c.id).order_by(both.c.rank, both.c.next_attempt_at).limit(limit)
    until = now + lease
    # a row whose window has come is due work again: queued, or deferred when it has been tried
    waited = case((col(Delivery.attempts) > 0, DeliveryState.DEFERRED), else_=DeliveryState.QUEUED)
    woken = case((col(Delivery.state) == DeliveryState.WAITING, waited), else_=col(Delivery.state))
    stmt = (
        update(Delivery)
        .where(col(Delivery.id).in_(due.scalar_subquery()))
        .values(next_attempt_at=until, lease_until=until, lease_owner=owner, state=woken)
        .returning(
            col(Delivery.id),
            col(Delivery.campaign_id),
            col(Delivery.contact_id),
            col(Delivery.email),
            col(Delivery.email_key),
            col(Delivery.attempts),
            col(Delivery.first_attempt_at),
            col(Delivery.variant),
        )
        .execution_options(synchronize_session=False)
    )
    rows = [Claimed(*r) for r in session.execute(stmt).all()]
    contact_ids = [r.contact_id for r in rows if r.contact_id is not None]
    if contact_ids:
        contacts = {
            c[0]: c
            for c in session.execute(
                select(col(Contact.id), col(Contact.first_name), col(Contact.last_name), col(Contact.attributes)).where(
                    in_values(session, col(Contact.id), contact_ids, Integer)
                )
            ).all()
        }
        for r in rows:
            c = contacts.get(r.contact_id)
            if c is not None:
                r.first_name, r.last_name, r.attributes = c[1], c[2], c[3]
    rows.sort(key=lambda r: r.id)
    return rows


def extend_lease(session: Session, ids: list[int], owner: str, until: datetime) -> None:
    """Keep rows this worker is still sending leased to it. The caller commits."""
    if ids:
        session.execute(
            update(Delivery)
            .where(col(Delivery.id).in_(ids), col(Delivery.lease_owner) == owner, col(Delivery.state).in_(DUE_STATES))
            .values(next_attempt_at=until, lease_until=until)
            .execution_options(synchronize_session=False)
        )


def suppressed(session: Session, rows: list[Claimed]) -> dict[int, str]:
    """Row id -> why it must not be sent, for rows suppressed since the ledger was frozen: the address
    from every list (its reason), or the contact from each of the campaign's lists they are on. A
    transactional message (its content loaded) follows its own rule (app.sending.transactional)."""
    from app.sending.transactional import refused_rows

    out = refused_rows(session, [r for r in rows if r.content is not None])
    rows = [r for r in rows if r.content is None]
    if not rows:
        return out
    keys = sorted({r.email_key for r in rows})
    every: dict[str, str] = {}
    left: dict[str, set[int]] = defaultdict(set)
    for key, reason, list_id in session.execute(
        select(col(Suppression.email_key), col(Suppression.reason), col(Suppression.list_id)).where(
            in_values(session, col(Suppression.email_key), keys, String)
        )
    ).tuples():
        if list_id is None:
            every[key] = reason
        else:
            left[key].add(list_id)
    out.update({r.id: every[r.email_key] for r in rows if r.email_key in every})
    leaving = [r for r in rows if r.email_key in left and r.id not in out and r.contact_id is not None]
    if leaving:
        out.update({r.id: "unsubscribed from this list" for r in _left_every_list(session, leaving, left)})
    return out


def _left_every_list(session: Session, rows: list[Claimed], left: dict[str, set[int]]) -> list[Claimed]:
    """The rows whose contact left each of their campaign's lists they are on."""
    lists = dict(
        session.execute(
            select(col(Campaign.id), col(Campaign.list_ids)).where(col(Campaign.id).in_({r.campaign_id for r in rows}))
        )
        .tuples()
        .all()
    )
    member: dict[int, set[int]] = defaultdict(set)
    for contact_id, list_id in session.execute(
        select(col(ListMember.contact_id), col(ListMember.list_id)).where(
            col(ListMember.contact_id).in_({r.contact_id for r in rows})
        )
    ).tuples():
        member[contact_id].add(list_id)
    out = []
    for r in rows:
        on = member[r.contact_id or 0] & set(lists.get(r.campaign_id) or ())
        if on and on <= left[r.email_key]:
            out.append(r)
    return out


def record(session: Session, outcomes: list[Outcome], settings: Settings, now: datetime) -> set[int]:
    """Write a batch of results: one UPDATE for all sent rows, one per-row statement for the rarer
    outcomes, one INSERT of the attempts. Failed and expired rows get a bounce record and the bounce
    policy. Returns the campaign ids touched. The caller commits."""
    by_kind: dict[str, list[Outcome]] = defaultdict(list)
    for o in outcomes:
        by_kind[o.kind].append(o)
    _record_sent(session, by_kind[DeliveryState.SENT], now)
    tried = by_kind[DeliveryState.DEFERRED] + by_kind[DeliveryState.FAILED]
    # the state each outcome ends in; the outcomes themselves stay as they were, so a write the
    # database refused can be tried again with the same list
    final = _record_tried(session, tried, settings, now, timings(session, {o.row.campaign_id for o in tried}))
    _record_cancelled(session, by_kind[SUPPRESSED])
    _record_released(session, by_kind[RELEASED], now)
    _record_attempts(session, outcomes, final, now)
    bounces = [
        _bounce(o, state, settings, now)
        for o in tried
        # not for a message we could not build (failed with no reply code)
        if (state := final.get(id(o))) == DeliveryState.EXPIRED
        or (state == DeliveryState.FAILED and o.code is not None)
    ]
    record_findings(session, bounces, BouncePolicy.from_settings(settings), now)
    return {o.row.campaign_id for o in outcomes}


def _record_sent(session: Session, sent: list[Outcome], now: datetime) -> None:
    """All sent rows in one statement; each row also gets its own VERP token and Message-ID."""
    if not sent:
        return
    done = {
        "state": DeliveryState.SENT,
        "attempts": _delivery.c.attempts + 1,
        "first_attempt_at": func.coalesce(_delivery.c.first_attempt_at, now),
        "last_attempt_at": now,
        "sent_at": now,
        "next_attempt_at": None,
        "last_reply_code": 250,
        "last_reply": None,
        **_LEASE_FREE,
    }
    stamps = [{"id": o.row.id, "verp_token": o.row.verp_token, "message_id": o.row.message_id} for o in sent]
    update_rows(session, Delivery, stamps, **done)


def _record_tried(
    session: Session, tried: list[Outcome], settings: Settings, now: datetime, timing: dict[int, Timing]
) -> dict[int, str]:
    """Deferred rows get their next try on the retry schedule (or expire when it is over), waiting for
    their campaign's window when the try falls outside it; failed rows are final. Returns the state each
    outcome ends in, by id() of the outcome."""
    final: dict[int, str] = {}
    per_row: list[dict[str, Any]] = []
    for o in tried:
        first = o.row.first_attempt_at or now
        tries = o.row.attempts + 1
        state, due = o.kind, None
        if o.kind == DeliveryState.DEFERRED:
            due = next_attempt_at(first, tries, settings.retry_minutes)
            if due is None:
                state = DeliveryState.EXPIRED
            elif due <= now:  # a sped-up schedule can already be due; never in the past
                due = now
            if due is not None and o.row.campaign_id in timing:
                allowed = timing[o.row.campaign_id].allowed(due, o.row.attributes)
                state, due = (DeliveryState.WAITING if allowed > due else state), allowed
        per_row.append(
            {
                "_id": o.row.id,
                "_tok": o.row.verp_token,
                "_mid": o.row.message_id,
                "_state": state,
                "_att": tries,
                "_first": first,
                "_next": due,
                "_code": o.code,
                "_reply": (o.text or "")[:TEXT_LENGTH],
            }
        )
        final[id(o)] = state
    if per_row:
        session.connection().execute(
            update(_delivery)
            .where(_delivery.c.id == bindparam("_id"))
            .values(
                verp_token=func.coalesce(bindparam("_tok", type_=String), _delivery.c.verp_token),
                message_id=func.coalesce(bindparam("_mid", type_=String), _delivery.c.message_id),
                state=bindparam("_state"),
                attempts=bindparam("_att"),
                first_attempt_at=bindparam("_first"),
                last_attempt_at=now,
                next_attempt_at=bindparam("_next"),
                last_reply_code=bindparam("_code"),
                last_reply=bindparam("_reply"),
                **_LEASE_FREE,
            ),
            per_row,
        )
    return final


def _record_cancelled(session: Session, skipped: list[Outcome]) -> None:
    """Suppressed after launch (an unsubscribe, a bounce elsewhere): never sent."""
    if skipped:
        session.connection().execute(
            update(_delivery)
            .where(_delivery.c.id == bindparam("_id"))
            .values(state=DeliveryState.CANCELLED, next_attempt_at=None, last_reply=bindparam("_reply"), **_LEASE_FREE),
            [{"_id": o.row.id, "_reply": o.text} for o in skipped],
        )


def _record_released(session: Session, released: list[Outcome], now: datetime) -> None:
    """Back to the queue, each due again when it asked for (else now); not an attempt."""
    release(session, [(o.row.id, o.at or now) for o in released])


def release(session: Session, rows: list[tuple[int, datetime]]) -> None:
    """Rows back to the queue unleased, each due again at its time; not an attempt. The caller commits."""
    if rows:
        session.connection().execute(
            update(_delivery)
            .where(_delivery.c.id == bindparam("_id"))
            .values(next_attempt_at=bindparam("_at"), **_LEASE_FREE),
            [{"_id": i, "_at": at} for i, at in rows],
        )


def _record_attempts(session: Session, outcomes: list[Outcome], final: dict[int, str], now: datetime) -> None:
    """One attempt row per try at the relay (a release or a cancellation is no try)."""
    attempts = [
        {
            "delivery_id": o.row.id,
            "at": o.at or now,
            "outcome": final.get(id(o), o.kind),
            "reply_code": o.code,
            "reply": (o.text or "")[:TEXT_LENGTH] or None,
        }
        for o in outcomes
        if o.kind not in (RELEASED, SUPPRESSED)
    ]
    insert_rows(session, DeliveryAttempt, attempts)


def _bounce(o: Outcome, state: str, settings: Settings, now: datetime) -> dict[str, Any]:
    return send_failure_row(
        email=o.row.email,
        email_key=o.row.email_key,
        delivery_id=o.row.id,
        campaign_id=o.row.campaign_id,
        code=o.code,
        text=o.text,
        relay_host=settings.smtp_host,
        now=now,
        gave_up_after=o.row.attempts + 1 if state == DeliveryState.EXPIRED else None,
    )


def complete_finished(session: Session, now: datetime, campaign_ids: set[int] | None = None) -> list[int]:
    """Mark `sending` campaigns with no due or leased rows left as completed. The caller commits."""
    pending = exists().where(col(Delivery.campaign_id) == col(Campaign.id), col(Delivery.state).in_(DUE_STATES))
    # a transactional stream is never finished: it sends for as long as messages are asked for; an automation's
    # send step stays sending too: its ledger grows as contacts reach the step
    cond = and_(
        col(Campaign.state) == CampaignState.SENDING,
        col(Campaign.kind) == CampaignKind.BULK,
        col(Campaign.automation_id).is_(None),
        ~pending,
    )
    if campaign_ids is not None:
        if not campaign_ids:
            return []
        cond = and_(cond, col(Campaign.id).in_(campaign_ids))
    done = list(session.execute(select(col(Campaign.id)).where(cond)).scalars())
    if done:
        session.execute(
            update(Campaign)
            .where(col(Campaign.id).in_(done), col(Campaign.state) == CampaignState.SENDING)
            .values(state=CampaignState.COMPLETED, completed_at=now, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        emit_completed(session, done, now)  # webhooks, stored in this transaction
    return done


def pause_campaigns(session: Session, reasons: dict[int, str], now: datetime) -> None:
    """Pause campaigns whose relay problem would fail every recipient, keeping the reason to show. A
    transactional stream is not paused (nobody would resume it): its rows wait and are tried again."""
    for campaign_id, reason in reasons.items():
        won = session.execute(
            update(Campaign)
            .where(
                col(Campaign.id) == campaign_id,
                col(Campaign.state) == CampaignState.SENDING,
                col(Campaign.kind) == CampaignKind.BULK,
            )
            .values(
                state=CampaignState.PAUSED,
                paused_reason=reason[:TEXT_LENGTH],
                updated_at=now,
                relay_unreachable_since=None,
                relay_next_try_at=None,
                relay_problem=None,
            )
            .execution_options(synchronize_session=False)
        ).rowcount  # type: ignore[attr-defined]  # an UPDATE returns a CursorResult; Session.execute is typed as Result
        if won:
            emit_paused(session, campaign_id, reason[:TEXT_LENGTH], now, cause="relay")


def relay_unreachable(
    session: Session,
    campaign_ids: set[int],
    since: datetime,
    next_try: datetime,
    problem: str,
    window: timedelta,
    now: datetime,
) -> list[int]:
    """Show on sending campaigns that their relay cannot be reached and when it is tried next; pause
    those it has failed for longer than the retry window. Returns the paused ids. The caller commits."""
    if not campaign_ids:
        return []
    session.execute(
        update(Campaign)
        .where(col(Campaign.id).in_(campaign_ids), col(Campaign.state) == CampaignState.SENDING)
        .values(
            relay_unreachable_since=func.coalesce(col(Campaign.relay_unreachable_since), since),
            relay_next_try_at=next_try,
            relay_problem=problem[:TEXT_LENGTH],
        )
        .execution_options(synchronize_session=False)
    )
    given_up = session.execute(
        select(col(Campaign.id), col(Campaign.relay_unreachable_since)).where(
            col(Campaign.id).in_(campaign_ids),
            col(Campaign.state) == CampaignState.SENDING,
            col(Campaign.kind) == CampaignKind.BULK,
            col(Campaign.relay_unreachable_since) <= now - window,
        )
    ).all()
    for campaign_id, first in given_up:
        reason = (
            f"the relay has been unreachable since {first:%Y-%m-%d %H:%M} UTC, longer than the retry window "
            f"({_span(window)}): {problem} — resume the campaign once the relay is back"
        )
        pause_campaigns(session, {campaign_id: reason}, now)
    return [c for c, _ in given_up]


def relay_reachable(session: Session, campaign_ids: set[int]) -> None:
    """The relay answered again: clear the outage shown on these campaigns. The caller commits."""
    if campaign_ids:
        session.execute(
            update(Campaign)
            .where(col(Campaign.id).in_(campaign_ids), col(Campaign.relay_unreachable_since).is_not(None))
            .values(relay_unreachable_since=None, relay_next_try_at=None, relay_problem=None)
            .execution_options(synchronize_session=False)
        )


def _span(window: timedelta) -> str:
    hours = window.total_seconds() / 3600
    return f"{hours / 24:g} days" if hours >= 48 else f"{hours:g} h"


def cancel_remaining(session: Session, campaign_id: int, now: datetime) -> int:
    result = session.execute(
        update(Delivery)
        .where(col(Delivery.campaign_id) == campaign_id, col(Delivery.state).in_(DUE_STATES))
        .values(state=DeliveryState.CANCELLED, next_attempt_at=None, **_LEASE_FREE)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]  # an UPDATE returns a CursorResult; Session.execute is typed as Result


@dataclass
class Progress:
    counts: dict[str, int]
    total: int
    done: int
    rate_per_second: float
    eta_seconds: float | None


RATE_WINDOW = timedelta(seconds=60)


def progress(session: Session, campaign: Campaign, now: datetime) -> Progress:
    """Counts per ledger state, the send rate over the last minute and the time left at that rate."""
    counts = dict.fromkeys(DeliveryState.ALL, 0)
    # a waiting row whose time has come is queued work (the next claim takes it): waiting means for the
    # window (or the recipient's local time), apart from deferred (for a retry)
    shown = case(
        (
            and_(col(Delivery.state) == DeliveryState.WAITING, col(Delivery.next_attempt_at) <= now),
            DeliveryState.QUEUED,
        ),
        else_=col(Delivery.state),
    )
    for state, n in session.execute(
        select(shown, func.count()).where(col(Delivery.campaign_id) == campaign.id).group_by(shown)
    ).all():
        counts[state] += int(n)
    total = sum(counts.values())
    pending = sum(counts[s] for s in DeliveryState.DUE)
    since = max(now - RATE_WINDOW, campaign.launched_at or now - RATE_WINDOW)
    recent = session.execute(
        select(func.count()).where(
            col(Delivery.campaign_id) == campaign.id,
            col(Delivery.state).in_((DeliveryState.SENT, DeliveryState.FAILED, DeliveryState.BOUNCED)),
            col(Delivery.last_attempt_at) >= since,
        )
    ).scalar_one()
    seconds = max((now - since).total_seconds(), 1.0)
    rate = recent / seconds
    eta = None
    if campaign.state == CampaignState.SENDING and pending:
        eta = pending / rate if rate > 0 else None
    elif not pending:
        eta = 0.0
    return Progress(
        counts=counts,
        total=total,
        done=total - pending,
        rate_per_second=round(rate, 2),
        eta_seconds=None if eta is None else round(eta, 1),
    )

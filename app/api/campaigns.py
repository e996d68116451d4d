"""/api/v1 routes for campaigns: CRUD, launch/pause/resume/cancel, test send, progress, ledger search."""

import threading
import time
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Query, Response
from pydantic import BaseModel
from sqlalchemy import Engine, event, select
from sqlmodel import Field, Session, SQLModel
from starlette.concurrency import run_in_threadpool

from app.api.deps import EngineDep, Id, SessionDep, SettingsDep, reading
from app.api.errors import get_or_404, request_error
from app.api.pagination import CursorQuery, LimitQuery, Page, after_id, page_of
from app.models import Campaign, Delivery, states, utcnow
from app.sending import campaigns as service
from app.sending import ledger
from app.sending.relay import RelayError
from app.sending.render import render_limits
from app.sending.testsend import test_send
from app.settings import Settings

router = APIRouter(prefix="/campaigns", tags=["campaigns"])

CampaignState = Literal["draft", "scheduled", "sending", "paused", "completed", "cancelled"]
DeliveryState = Literal["queued", "deferred", "sent", "failed", "expired", "cancelled", "bounced"]


class CampaignBase(SQLModel):
    name: str = Field(min_length=1, max_length=200)
    from_name: str = Field(default="", max_length=200)
    from_address: str = Field(max_length=320)
    reply_to: str | None = Field(default=None, max_length=320)
    subject: str = Field(min_length=1, max_length=998, description="a Jinja2 template, like the bodies")
    html_template: str = ""
    text_template: str = ""
    list_ids: list[int] = Field(default_factory=list)
    send_at: datetime | None = Field(default=None, description="launch sends at this time instead of at once")


class CampaignCreate(CampaignBase):
    pass


class CampaignUpdate(SQLModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    from_name: str | None = Field(default=None, max_length=200)
    from_address: str | None = Field(default=None, max_length=320)
    reply_to: str | None = Field(default=None, max_length=320)
    subject: str | None = Field(default=None, min_length=1, max_length=998)
    html_template: str | None = None
    text_template: str | None = None
    list_ids: list[int] | None = None
    send_at: datetime | None = None


class ProgressPublic(BaseModel):
    counts: dict[str, int]
    total: int
    done: int
    percent: float
    rate_per_second: float
    eta_seconds: float | None


class CampaignPublic(CampaignBase):
    id: int
    state: str
    paused_reason: str | None
    relay_unreachable_since: datetime | None = Field(
        default=None, description="set while the relay cannot be reached; the campaign keeps sending and retries"
    )
    relay_next_try_at: datetime | None = Field(default=None, description="when the relay is tried next")
    relay_problem: str | None = Field(default=None, description="why the relay cannot be reached")
    audience_counts: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    launched_at: datetime | None
    completed_at: datetime | None
    progress: ProgressPublic | None = None


class CancelResult(BaseModel):
    campaign: CampaignPublic
    cancelled_deliveries: int


class TestSendRequest(BaseModel):
    to: list[str] = Field(description="addresses to send the test to")
    contact_id: int | None = Field(
        default=None, description="render for this contact (default: the first of the lists)"
    )


class TestSendItem(BaseModel):
    address: str
    ok: bool
    reply: str


class DeliveryPublic(SQLModel):
    id: int
    email: str
    state: str
    attempts: int
    next_attempt_at: datetime | None
    first_attempt_at: datetime | None
    last_attempt_at: datetime | None
    sent_at: datetime | None
    last_reply_code: int | None
    last_reply: str | None
    message_id: str | None
    bounced_at: datetime | None


_NULLABLE = {"reply_to", "send_at"}

# While a campaign sends, its progress (counts over the whole ledger) is computed at most once a second
# per process, however many clients poll it: each count is a scan of the campaign's delivery rows.
PROGRESS_TTL = 1.0
_recent_progress: dict[tuple[str, int], tuple[float, ProgressPublic]] = {}
_refreshing: dict[tuple[str, int], threading.Lock] = {}


def _invalid(field: str, message: str) -> HTTPException:
    return request_error(422, ["body", field], message)


def _get(session: SessionDep, campaign_id: int) -> Campaign:
    return get_or_404(session, Campaign, campaign_id, "campaign_id", "campaign")


def _public(
    session: SessionDep, campaign: Campaign, with_progress: bool = True, cached: bool = False
) -> CampaignPublic:
    out = CampaignPublic.model_validate(campaign, from_attributes=True)
    if with_progress:
        out.progress = _progress(session, campaign, cached)
    return out


def _progress(session: SessionDep, campaign: Campaign, cached: bool = False) -> ProgressPublic:
    key = (str(session.get_bind().url), campaign.id or 0)
    hit = _recent_progress.get(key)
    if cached and campaign.state == states.CampaignState.SENDING and hit:
        if time.monotonic() - hit[0] < PROGRESS_TTL:
            return hit[1]
        # expired: one request recounts while the others polling meanwhile get the last counts, rather
        # than every request in flight scanning the ledger at once
        refreshing = _refreshing.setdefault(key, threading.Lock())
        if not refreshing.acquire(blocking=False):
            return hit[1]
        try:
            return _count_progress(session, campaign, key)
        finally:
            refreshing.release()
    return _count_progress(session, campaign, key)


def _count_progress(session: SessionDep, campaign: Campaign, key: tuple[str, int]) -> ProgressPublic:
    p = ledger.progress(session, campaign, utcnow())
    percent = (
        round(100.0 * p.done / p.total, 1)
        if p.total
        else (100.0 if campaign.state == states.CampaignState.COMPLETED else 0.0)
    )
    out = ProgressPublic(counts=p.counts, total=p.total, done=p.done, percent=percent,
                         rate_per_second=p.rate_per_second, eta_seconds=p.eta_seconds)  # fmt: skip
    _recent_progress[key] = (time.monotonic(), out)
    return out


def _all_invalid(exc: service.CampaignInvalid) -> HTTPException:
    """A 422 with one entry per problem: every template's error at once, each with its line."""
    return HTTPException(422, detail=[{"loc": ["body", f], "msg": m, "type": "value_error"} for f, m in exc.problems])


def _checked(session: SessionDep, campaign: Campaign, settings: Settings) -> None:
    try:
        service.check_campaign(session, campaign, render_limits(settings))
    except service.CampaignInvalid as exc:
        raise _all_invalid(exc) from exc
    except service.CampaignStateError as exc:
        raise HTTPException(409, detail=str(exc)) from exc


@router.post("", response_model=CampaignPublic, status_code=201)
def create_campaign(body: CampaignCreate, session: SessionDep, settings: SettingsDep) -> CampaignPublic:
    """Save a draft; its templates and addresses are checked now, not during the send."""
    campaign = Campaign.model_validate(body)
    _checked(session, campaign, settings)
    session.add(campaign)
    session.commit()
    return _public(session, campaign)


@router.get("", response_model=Page[CampaignPublic])
def list_campaigns(
    session: SessionDep, state: CampaignState | None = None, limit: LimitQuery = 50, cursor: CursorQuery = None
) -> Page[CampaignPublic]:
    """Campaigns, newest first, without their progress (GET one campaign for that)."""
    query = select(Campaign)
    if state is not None:
        query = query.where(Campaign.state == state)
    rows = list(session.execute(after_id(query, Campaign.id, cursor, descending=True).limit(limit + 1)).scalars())
    items, next_cursor = page_of(rows, limit)
    return Page(items=[_public(session, c, with_progress=False) for c in items], next_cursor=next_cursor)


# While a campaign sends, GET /campaigns/{id} keeps its whole answer for the same PROGRESS_TTL and serves
# it again without a database read or a thread-pool hop. A change to the campaign in this process (API,
# web page, embedded worker through the ORM) drops it at once; one elsewhere shows within PROGRESS_TTL.
_recent_public: dict[tuple[str, int], tuple[float, CampaignPublic]] = {}
_reading_public: set[tuple[str, int]] = set()  # touched only on the event loop


@event.listens_for(Campaign, "after_update")
@event.listens_for(Campaign, "after_delete")
def _campaign_changed(*_: object) -> None:
    _recent_public.clear()


def _read_public(engine: Engine, campaign_id: int) -> CampaignPublic:
    with Session(reading(engine), expire_on_commit=False) as session:
        out = _public(session, _get(session, campaign_id), cached=True)
    if out.state == states.CampaignState.SENDING:
        _recent_public[(str(engine.url), campaign_id)] = (time.monotonic(), out)
    return out


def _read_progress(engine: Engine, campaign_id: int) -> ProgressPublic:
    with Session(reading(engine), expire_on_commit=False) as session:
        return _progress(session, _get(session, campaign_id), cached=True)


# The two polled reads are async with all their database work in one thread-pool call (a sync route
# with a session dependency costs three hops, each of which may wait for the GIL behind the worker).
@router.get("/{campaign_id}", response_model=CampaignPublic)
async def get_campaign(campaign_id: Id, engine: EngineDep) -> CampaignPublic:
    """The campaign with its progress: counts per ledger state, rate and ETA."""
    key = (str(engine.url), campaign_id)
    hit = _recent_public.get(key)
    if hit is not None and (time.monotonic() - hit[0] < PROGRESS_TTL or key in _reading_public):
        return hit[1]  # fresh, or expired while one request is already reading it again
    _reading_public.add(key)
    try:
        return await run_in_threadpool(_read_public, engine, campaign_id)
    finally:
        _reading_public.discard(key)


@router.get("/{campaign_id}/progress", response_model=ProgressPublic)
async def get_progress(campaign_id: Id, engine: EngineDep) -> ProgressPublic:
    return await run_in_threadpool(_read_progress, engine, campaign_id)


def _check_editable(campaign: Campaign, changes: dict[str, Any]) -> None:
    if campaign.state not in service.EDITABLE_STATES:
        raise HTTPException(409, detail=f"a {campaign.state} campaign cannot be edited (pause it first)")
    if campaign.state == states.CampaignState.PAUSED and "list_ids" in changes:
        raise _invalid("list_ids", "the audience was frozen when sending started; lists cannot change now")


@router.patch("/{campaign_id}", response_model=CampaignPublic)
def update_campaign(
    campaign_id: Id, body: CampaignUpdate, session: SessionDep, settings: SettingsDep
) -> CampaignPublic:
    campaign = _get(session, campaign_id)
    changes = body.model_dump(exclude_unset=True)
    for key, value in changes.items():
        if value is None and key not in _NULLABLE:
            raise _invalid(key, "may not be null; leave it out to keep the current value")
    _check_editable(campaign, changes)
    seen = campaign.updated_at
    # the check runs on a copy with the changes, after the request's transaction has ended
    _checked(session, Campaign.model_validate({**campaign.model_dump(), **changes}), settings)
    if campaign.updated_at != seen:  # read again, in a new transaction
        raise HTTPException(409, detail="the campaign was changed while it was being checked; try again")
    _check_editable(campaign, changes)
    for key, value in changes.items():
        setattr(campaign, key, value)
    campaign.updated_at = utcnow()
    session.add(campaign)
    session.commit()
    return _public(session, campaign)


@router.delete("/{campaign_id}", status_code=204)
def delete_campaign(campaign_id: Id, session: SessionDep) -> Response:
    campaign = _get(session, campaign_id)
    if campaign.state not in (states.CampaignState.DRAFT, states.CampaignState.SCHEDULED):
        raise HTTPException(409, detail=f"a {campaign.state} campaign has a ledger and is kept; cancel it instead")
    session.delete(campaign)
    session.commit()
    return Response(status_code=204)


def _transition(session: SessionDep, campaign: Campaign, action) -> None:  # type: ignore[no-untyped-def]
    try:
        action()
    except service.CampaignStateError as exc:
        session.rollback()
        raise HTTPException(409, detail=str(exc)) from exc
    except service.CampaignInvalid as exc:
        session.rollback()
        raise _all_invalid(exc) from exc
    session.add(campaign)
    session.commit()


@router.post("/{campaign_id}/launch", response_model=CampaignPublic)
def launch_campaign(campaign_id: Id, session: SessionDep, settings: SettingsDep) -> CampaignPublic:
    """Freeze the audience into the ledger and start sending (or schedule it for send_at)."""
    campaign = _get(session, campaign_id)
    _transition(session, campaign, lambda: service.launch(session, campaign, settings, utcnow()))
    return _public(session, campaign)


@router.post("/{campaign_id}/pause", response_model=CampaignPublic)
def pause_campaign(campaign_id: Id, session: SessionDep) -> CampaignPublic:
    campaign = _get(session, campaign_id)
    _transition(session, campaign, lambda: service.pause(campaign, utcnow()))
    return _public(session, campaign)


@router.post("/{campaign_id}/resume", response_model=CampaignPublic)
def resume_campaign(campaign_id: Id, session: SessionDep, settings: SettingsDep) -> CampaignPublic:
    campaign = _get(session, campaign_id)
    _transition(session, campaign, lambda: service.resume(session, campaign, utcnow(), render_limits(settings)))
    return _public(session, campaign)


@router.post("/{campaign_id}/cancel", response_model=CancelResult)
def cancel_campaign(campaign_id: Id, session: SessionDep) -> CancelResult:
    campaign = _get(session, campaign_id)
    cancelled: list[int] = []
    _transition(session, campaign, lambda: cancelled.append(service.cancel(session, campaign, utcnow())))
    return CancelResult(campaign=_public(session, campaign), cancelled_deliveries=cancelled[0])


@router.post("/{campaign_id}/test", response_model=list[TestSendItem])
def test_send_campaign(
    campaign_id: Id, body: TestSendRequest, session: SessionDep, engine: EngineDep, settings: SettingsDep
) -> list[TestSendItem]:
    """Send the campaign, rendered for one contact, to the given addresses; nothing enters the ledger."""
    campaign = _get(session, campaign_id)
    _checked(session, campaign, settings)
    try:
        results = test_send(session, engine, settings, campaign, body.to, body.contact_id)
    except (ValueError, LookupError) as exc:
        field, _, message = str(exc).partition(": ")
        raise _invalid(field, message) from exc
    except RelayError as exc:
        raise HTTPException(502, detail=f"relay {exc.kind} error: {exc}") from exc
    return [TestSendItem(address=r.address, ok=r.ok, reply=r.reply) for r in results]


@router.get("/{campaign_id}/deliveries", response_model=Page[DeliveryPublic])
def search_deliveries(
    campaign_id: Id,
    session: SessionDep,
    email: str | None = Query(None, description="part of the address, case-insensitive"),
    state: DeliveryState | None = None,
    limit: LimitQuery = 100,
    cursor: CursorQuery = None,
) -> Page[DeliveryPublic]:
    """The ledger: one row per recipient, searchable by address and state."""
    _get(session, campaign_id)
    query = select(Delivery).where(Delivery.campaign_id == campaign_id)
    if email:
        query = query.where(Delivery.email_key.contains(email.strip().lower(), autoescape=True))
    if state:
        query = query.where(Delivery.state == state)
    rows = list(session.execute(after_id(query, Delivery.id, cursor).limit(limit + 1)).scalars())
    items, next_cursor = page_of(rows, limit)
    return Page(items=[DeliveryPublic.model_validate(r, from_attributes=True) for r in items], next_cursor=next_cursor)

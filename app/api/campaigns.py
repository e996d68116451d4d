"""/api/v1 routes for campaigns: CRUD, launch/pause/resume/cancel, test send, progress, ledger search."""

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Query, Response
from pydantic import BaseModel
from sqlalchemy import func, select
from sqlmodel import Field, SQLModel

from app.api.deps import EngineDep, SessionDep, SettingsDep
from app.models import Campaign, Delivery, utcnow
from app.sending import campaigns as service
from app.sending import ledger
from app.sending.relay import RelayError
from app.sending.testsend import test_send

router = APIRouter(prefix="/campaigns", tags=["campaigns"])

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
    audience_counts: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    launched_at: datetime | None
    completed_at: datetime | None
    progress: ProgressPublic | None = None


class CampaignList(BaseModel):
    items: list[CampaignPublic]
    total: int


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


class DeliveryPage(BaseModel):
    items: list[DeliveryPublic]
    total: int


def _invalid(field: str, message: str) -> HTTPException:
    return HTTPException(422, detail=[{"loc": ["body", field], "msg": message, "type": "value_error"}])


def _get(session: SessionDep, campaign_id: int) -> Campaign:
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise HTTPException(404, detail=f"no campaign {campaign_id}")
    return campaign


def _public(session: SessionDep, campaign: Campaign, with_progress: bool = True) -> CampaignPublic:
    out = CampaignPublic.model_validate(campaign, from_attributes=True)
    if with_progress:
        out.progress = _progress(session, campaign)
    return out


def _progress(session: SessionDep, campaign: Campaign) -> ProgressPublic:
    p = ledger.progress(session, campaign, utcnow())
    percent = round(100.0 * p.done / p.total, 1) if p.total else (100.0 if campaign.state == "completed" else 0.0)
    return ProgressPublic(counts=p.counts, total=p.total, done=p.done, percent=percent,
                          rate_per_second=p.rate_per_second, eta_seconds=p.eta_seconds)  # fmt: skip


def _checked(session: SessionDep, campaign: Campaign) -> None:
    try:
        service.check_campaign(session, campaign)
    except service.CampaignInvalid as exc:
        raise _invalid(exc.field, exc.detail) from exc


@router.post("", response_model=CampaignPublic, status_code=201)
def create_campaign(body: CampaignCreate, session: SessionDep) -> CampaignPublic:
    """Save a draft; its templates and addresses are checked now, not during the send."""
    campaign = Campaign.model_validate(body)
    _checked(session, campaign)
    session.add(campaign)
    session.commit()
    return _public(session, campaign)


@router.get("", response_model=CampaignList)
def list_campaigns(
    session: SessionDep, state: str | None = None, limit: int = Query(50, ge=1, le=500), offset: int = Query(0, ge=0)
) -> CampaignList:
    query = select(Campaign)
    if state is not None:
        query = query.where(Campaign.state == state)
    total = session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    rows = session.execute(query.order_by(Campaign.id.desc()).limit(limit).offset(offset)).scalars()
    return CampaignList(items=[_public(session, c, with_progress=False) for c in rows], total=total)


@router.get("/{campaign_id}", response_model=CampaignPublic)
def get_campaign(campaign_id: int, session: SessionDep) -> CampaignPublic:
    """The campaign with its progress: counts per ledger state, rate and ETA."""
    return _public(session, _get(session, campaign_id))


@router.get("/{campaign_id}/progress", response_model=ProgressPublic)
def get_progress(campaign_id: int, session: SessionDep) -> ProgressPublic:
    return _progress(session, _get(session, campaign_id))


@router.patch("/{campaign_id}", response_model=CampaignPublic)
def update_campaign(campaign_id: int, body: CampaignUpdate, session: SessionDep) -> CampaignPublic:
    campaign = _get(session, campaign_id)
    if campaign.state not in service.EDITABLE_STATES:
        raise HTTPException(409, detail=f"a {campaign.state} campaign cannot be edited (pause it first)")
    changes = body.model_dump(exclude_unset=True)
    if campaign.state == "paused" and "list_ids" in changes:
        raise _invalid("list_ids", "the audience was frozen when sending started; lists cannot change now")
    for key, value in changes.items():
        setattr(campaign, key, value)
    campaign.updated_at = utcnow()
    _checked(session, campaign)
    session.add(campaign)
    session.commit()
    return _public(session, campaign)


@router.delete("/{campaign_id}", status_code=204)
def delete_campaign(campaign_id: int, session: SessionDep) -> Response:
    campaign = _get(session, campaign_id)
    if campaign.state not in ("draft", "scheduled"):
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
        raise _invalid(exc.field, exc.detail) from exc
    session.add(campaign)
    session.commit()


@router.post("/{campaign_id}/launch", response_model=CampaignPublic)
def launch_campaign(campaign_id: int, session: SessionDep, settings: SettingsDep) -> CampaignPublic:
    """Freeze the audience into the ledger and start sending (or schedule it for send_at)."""
    campaign = _get(session, campaign_id)
    _transition(session, campaign, lambda: service.launch(session, campaign, settings, utcnow()))
    return _public(session, campaign)


@router.post("/{campaign_id}/pause", response_model=CampaignPublic)
def pause_campaign(campaign_id: int, session: SessionDep) -> CampaignPublic:
    campaign = _get(session, campaign_id)
    _transition(session, campaign, lambda: service.pause(campaign, utcnow()))
    return _public(session, campaign)


@router.post("/{campaign_id}/resume", response_model=CampaignPublic)
def resume_campaign(campaign_id: int, session: SessionDep) -> CampaignPublic:
    campaign = _get(session, campaign_id)
    _transition(session, campaign, lambda: service.resume(session, campaign, utcnow()))
    return _public(session, campaign)


@router.post("/{campaign_id}/cancel", response_model=CancelResult)
def cancel_campaign(campaign_id: int, session: SessionDep) -> CancelResult:
    campaign = _get(session, campaign_id)
    cancelled: list[int] = []
    _transition(session, campaign, lambda: cancelled.append(service.cancel(session, campaign, utcnow())))
    return CancelResult(campaign=_public(session, campaign), cancelled_deliveries=cancelled[0])


@router.post("/{campaign_id}/test", response_model=list[TestSendItem])
def test_send_campaign(
    campaign_id: int, body: TestSendRequest, session: SessionDep, engine: EngineDep, settings: SettingsDep
) -> list[TestSendItem]:
    """Send the campaign, rendered for one contact, to the given addresses; nothing enters the ledger."""
    campaign = _get(session, campaign_id)
    _checked(session, campaign)
    try:
        results = test_send(session, engine, settings, campaign, body.to, body.contact_id)
    except (ValueError, LookupError) as exc:
        field, _, message = str(exc).partition(": ")
        raise _invalid(field, message) from exc
    except RelayError as exc:
        raise HTTPException(502, detail=f"relay {exc.kind} error: {exc}") from exc
    return [TestSendItem(address=r.address, ok=r.ok, reply=r.reply) for r in results]


@router.get("/{campaign_id}/deliveries", response_model=DeliveryPage)
def search_deliveries(
    campaign_id: int,
    session: SessionDep,
    email: str | None = Query(None, description="part of the address, case-insensitive"),
    state: DeliveryState | None = None,
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0),
) -> DeliveryPage:
    """The ledger: one row per recipient, searchable by address and state."""
    _get(session, campaign_id)
    query = select(Delivery).where(Delivery.campaign_id == campaign_id)
    if email:
        query = query.where(Delivery.email_key.contains(email.strip().lower(), autoescape=True))
    if state:
        query = query.where(Delivery.state == state)
    total = session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    rows = session.execute(query.order_by(Delivery.id).limit(limit).offset(offset)).scalars()
    return DeliveryPage(items=[DeliveryPublic.model_validate(r, from_attributes=True) for r in rows], total=total)

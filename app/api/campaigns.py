"""/api/v1 routes for campaigns: CRUD, launch/pause/resume/cancel, test send, preflight, progress, ledger search."""

from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, HTTPException, Query, Response
from pydantic import BaseModel

from app.api import campaign_cache
from app.api.errors import request_error
from app.api.pagination import CursorQuery, LimitQuery, Page
from app.deliverability.preflight.schemas import PreflightPublic, PreflightRequest
from app.deliverability.preflight.service import campaign_preflight
from app.deps import EngineDep, Id, SessionDep, SettingsDep
from app.models import Campaign, utcnow
from app.sending import abtest, guards, queries
from app.sending import campaigns as service
from app.sending.relay import RelayError
from app.sending.render import RenderFailed, field_name, render_limits
from app.sending.schemas import (
    AbTestPublic,
    CampaignCreate,
    CampaignPublic,
    CampaignState,
    CampaignUpdate,
    CancelResult,
    DeliverabilityPublic,
    DeliveryPublic,
    DeliveryState,
    DuplicateRequest,
    GuardThresholds,
    ProgressPublic,
    TestSendItem,
    TestSendRequest,
    UnsubscribeCompliancePublic,
    WindowRates,
)
from app.sending.testsend import test_send
from app.settings import Settings

router = APIRouter(prefix="/campaigns", tags=["campaigns"])

_NULLABLE = {"reply_to", "send_at", "send_window", "local_time", "identity_id", "layout_id", "tracking"}


def _invalid(field: str, message: str) -> HTTPException:
    return request_error(422, ["body", field], message)


def _get(session: SessionDep, campaign_id: int) -> Campaign:
    return campaign_cache.campaign_or_404(session, campaign_id)


def _public(session: SessionDep, campaign: Campaign, with_progress: bool = True) -> CampaignPublic:
    return campaign_cache.public(session, campaign, with_progress)


def _all_invalid(exc: service.CampaignInvalid) -> HTTPException:
    """A 422 with one entry per problem: every template's error at once, each with its line."""
    return HTTPException(422, detail=[{"loc": ["body", f], "msg": m, "type": "value_error"} for f, m in exc.problems])


def _refused(action: Callable[[], object]) -> None:
    """Run a service action; what the campaign's state or content refuses is a 409 or a 422."""
    try:
        action()
    except service.CampaignInvalid as exc:
        raise _all_invalid(exc) from exc
    except service.CampaignStateError as exc:
        raise HTTPException(409, detail=str(exc)) from exc


def _checked(session: SessionDep, campaign: Campaign, settings: Settings) -> None:
    _refused(lambda: service.check_campaign(session, campaign, render_limits(settings)))


@router.post("", response_model=CampaignPublic, status_code=201)
def create_campaign(body: CampaignCreate, session: SessionDep, settings: SettingsDep) -> CampaignPublic:
    """Save a draft; its templates and addresses are checked now, not during the send."""
    campaign = Campaign.model_validate(body.model_dump())
    _checked(session, campaign, settings)
    session.add(campaign)
    session.commit()
    return _public(session, campaign)


@router.get("", response_model=Page[CampaignPublic])
def list_campaigns(
    session: SessionDep, state: CampaignState | None = None, limit: LimitQuery = 50, cursor: CursorQuery = None
) -> Page[CampaignPublic]:
    """Campaigns, newest first, without their progress (GET one campaign for that)."""
    items, next_cursor = queries.campaigns_page(session, limit, cursor, state)
    return Page(items=[_public(session, c, with_progress=False) for c in items], next_cursor=next_cursor)


@router.get("/{campaign_id}", response_model=CampaignPublic)
async def get_campaign(campaign_id: Id, engine: EngineDep) -> CampaignPublic:
    """The campaign with its progress: counts per ledger state, rate and ETA."""
    return await campaign_cache.polled_public(engine, campaign_id)


@router.get("/{campaign_id}/progress", response_model=ProgressPublic)
async def get_progress(campaign_id: Id, engine: EngineDep) -> ProgressPublic:
    return await campaign_cache.polled_progress(engine, campaign_id)


@router.get("/{campaign_id}/deliverability", response_model=DeliverabilityPublic)
def get_deliverability(campaign_id: Id, session: SessionDep, settings: SettingsDep) -> DeliverabilityPublic:
    """The campaign's complaint and hard-bounce rates over the last 24 hours and 7 days against the
    guard's thresholds, and its unsubscribe compliance (mail sent after an unsubscribe)."""
    campaign = _get(session, campaign_id)
    assert campaign.id is not None
    rates, compliance = guards.campaign_report(session, settings, campaign.id)
    windows = {}
    for window, c in rates.windows.items():
        bounces, complaints = rates.finding(guards.HARD_BOUNCES, window), rates.finding(guards.COMPLAINTS, window)
        windows[window] = WindowRates(
            out=c.out,
            hard_bounces=c.hard_bounces,
            complaints=c.complaints,
            hard_bounce_percent=None if bounces.percent is None else round(bounces.percent, 2),
            complaint_percent=None if complaints.percent is None else round(complaints.percent, 2),
            hard_bounce_level=bounces.level,
            complaint_level=complaints.level,
        )
    return DeliverabilityPublic(
        windows=windows,
        thresholds=GuardThresholds(**asdict(rates.thresholds)),
        unsubscribes=UnsubscribeCompliancePublic(
            unsubscribes=compliance.unsubscribes,
            mailed_after=compliance.mailed_after,
            violations=compliance.violations,
            longest_seconds=compliance.longest.total_seconds(),
        ),
    )


@router.patch("/{campaign_id}", response_model=CampaignPublic)
def update_campaign(
    campaign_id: Id, body: CampaignUpdate, session: SessionDep, settings: SettingsDep
) -> CampaignPublic:
    campaign = _get(session, campaign_id)
    changes = body.model_dump(exclude_unset=True)
    for key, value in changes.items():
        if value is None and key not in _NULLABLE:
            raise _invalid(key, "may not be null; leave it out to keep the current value")
    _refused(lambda: service.edit(session, campaign, changes, render_limits(settings)))
    session.commit()
    return _public(session, campaign)


@router.post("/{campaign_id}/duplicate", response_model=CampaignPublic, status_code=201)
def duplicate_campaign(campaign_id: Id, session: SessionDep, body: DuplicateRequest | None = None) -> CampaignPublic:
    """A new draft with this campaign's subject, bodies, template language, layout, lists, identity, relays,
    headers and archive flag; not its state, schedule or ledger. Any campaign may be copied."""
    copy = service.duplicate(session, _get(session, campaign_id), body.name if body else None)
    session.commit()
    return _public(session, copy)


@router.delete("/{campaign_id}", status_code=204)
def delete_campaign(campaign_id: Id, session: SessionDep) -> Response:
    campaign = _get(session, campaign_id)
    _refused(lambda: service.delete(session, campaign))
    session.commit()
    return Response(status_code=204)


def _transition(session: SessionDep, campaign: Campaign, action: Callable[[], object]) -> None:
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
def resume_campaign(
    campaign_id: Id,
    session: SessionDep,
    settings: SettingsDep,
    override_guard: bool = Query(
        False,
        description="send although a complaint or hard-bounce rate is past its pause threshold (409 otherwise);"
        " the guard then no longer pauses this campaign",
    ),
) -> CampaignPublic:
    campaign = _get(session, campaign_id)
    _transition(session, campaign, lambda: service.resume(session, campaign, settings, utcnow(), override_guard))
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


@router.post("/{campaign_id}/preflight", response_model=PreflightPublic)
def preflight_campaign(
    campaign_id: Id,
    session: SessionDep,
    engine: EngineDep,
    settings: SettingsDep,
    body: PreflightRequest | None = None,
) -> PreflightPublic:
    """Check what receivers will check (SPF, DKIM, DMARC alignment, PTR/HELO, one-click unsubscribe, a visible
    unsubscribe link, size, spam score) on a message rendered for the campaign's first contact; each problem
    says what to change. Kept for BULKMAIL_PREFLIGHT_CACHE_SECONDS unless `refresh`."""
    campaign = _get(session, campaign_id)
    _checked(session, campaign, settings)
    try:
        report = campaign_preflight(session, engine, settings, campaign, refresh=body is not None and body.refresh)
    except RenderFailed as exc:  # the first contact's values break a template
        raise _invalid(field_name(exc.part), str(exc)) from exc
    return PreflightPublic.of(campaign_id, report)


@router.get("/{campaign_id}/deliveries", response_model=Page[DeliveryPublic])
def search_deliveries(
    campaign_id: Id,
    session: SessionDep,
    email: str | None = Query(
        None, description="part of the address, case-insensitive; a whole address finds exactly that address"
    ),
    state: DeliveryState | None = None,
    limit: LimitQuery = 100,
    cursor: CursorQuery = None,
) -> Page[DeliveryPublic]:
    """The ledger: one row per recipient, searchable by address and state."""
    _get(session, campaign_id)
    items, next_cursor = queries.deliveries_page(session, campaign_id, limit, cursor, email, state)
    return Page(items=[DeliveryPublic.model_validate(r, from_attributes=True) for r in items], next_cursor=next_cursor)


class AbTestRequest(BaseModel):
    """An A/B test: `ab_test` {percent, wait_minutes, pick: clicks | opens | bounces | manual} and 2-5
    variants, each changing the subject, from_name, html_template and/or text_template; null test: none."""

    ab_test: dict[str, Any] | None = None
    variants: list[dict[str, Any]] = []


class WinnerRequest(BaseModel):
    variant: int


@router.put("/{campaign_id}/ab-test", response_model=AbTestPublic)
def set_ab_test(campaign_id: Id, body: AbTestRequest, session: SessionDep) -> dict[str, Any]:
    """Set a draft's A/B test and variants (validation errors name the field, e.g. ab_test.percent)."""
    campaign = _get(session, campaign_id)
    try:
        abtest.configure(session, campaign, body.ab_test, body.variants)
    except abtest.TestInvalid as exc:
        raise _invalid(exc.field, exc.detail) from exc
    except service.CampaignStateError as exc:
        raise HTTPException(409, detail=str(exc)) from exc
    session.commit()
    return abtest.report(session, campaign)


@router.get("/{campaign_id}/ab-test", response_model=AbTestPublic)
def get_ab_test(campaign_id: Id, session: SessionDep) -> dict[str, Any]:
    """Each variant's figures (sent, opened, clicked, bounced), the winner, and a two-proportion z-test note
    that says when the difference is not significant."""
    return abtest.report(session, _get(session, campaign_id))


@router.post("/{campaign_id}/winner", response_model=AbTestPublic)
def choose_winner(campaign_id: Id, body: WinnerRequest, session: SessionDep) -> dict[str, Any]:
    """Send this variant to the rest of the audience now (once)."""
    campaign = _get(session, campaign_id)
    try:
        abtest.choose_winner(session, campaign, body.variant, utcnow())
    except abtest.TestInvalid as exc:
        raise _invalid(exc.field, exc.detail) from exc
    session.commit()
    return abtest.report(session, campaign)

"""/api/v1 routes for webhooks out: register endpoints, see every delivery and its attempts, replay one."""

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Response

from app.api.errors import get_or_404, request_error
from app.api.pagination import CursorQuery, LimitQuery, Page
from app.api.resources import Resource, deleted
from app.deps import EngineDep, Id, SessionDep, SettingsDep
from app.models import WebhookDelivery, WebhookEndpoint, WebhookEvent
from app.settings import Settings
from app.webhooks import endpoints, queries
from app.webhooks.dispatch import envelope, replay
from app.webhooks.schemas import (
    AttemptPublic,
    DeliveryDetail,
    DeliveryState,
    EventPublic,
    EventType,
    WebhookCreate,
    WebhookCreated,
    WebhookDeliveryPublic,
    WebhookPublic,
    WebhookUpdate,
)
from app.webhooks.url_safety import AllowList, UnsafeTarget

router = APIRouter(tags=["webhooks"])


def _allowed(settings: Settings) -> AllowList:
    return AllowList.parse(settings.webhook_allowed_networks)


def _unsafe(exc: UnsafeTarget) -> HTTPException:
    return request_error(422, ["body", "url"], str(exc))


WEBHOOKS = Resource(WebhookEndpoint, WebhookPublic, "webhook_id", "webhook")


def _delivery_public(d: WebhookDelivery, event_type: str) -> WebhookDeliveryPublic:
    return WebhookDeliveryPublic(
        webhook_id=d.endpoint_id, event_type=event_type, **d.model_dump(exclude={"endpoint_id", "lease_until"})
    )


@router.post("/webhooks", response_model=WebhookCreated, status_code=201)
def create_webhook(body: WebhookCreate, session: SessionDep, settings: SettingsDep) -> WebhookCreated:
    """Register a URL for the events it wants. Each event is POSTed as JSON with the header
    `X-Bulkmail-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" keyed with the secret>`,
    plus `X-Bulkmail-Event-Id` (de-duplicate on it) and `X-Bulkmail-Event`. Any 2xx is success; anything
    else is retried with exponential backoff (30 s, doubling) for 24 hours; redirects are not followed.
    The URL must resolve to public addresses only (loopback, private, link-local, multicast and reserved
    ones are refused, here and again at every delivery) unless BULKMAIL_WEBHOOK_ALLOWED_NETWORKS lists them."""
    try:
        ep = endpoints.register(session, body.url, body.events, body.description, body.active, _allowed(settings))
    except UnsafeTarget as exc:
        raise _unsafe(exc) from None
    session.commit()
    return WebhookCreated(**WEBHOOKS.shown(ep).model_dump(), secret=ep.secret)


@router.get("/webhooks", response_model=Page[WebhookPublic])
def list_webhooks(session: SessionDep, limit: LimitQuery = 100, cursor: CursorQuery = None) -> Page[WebhookPublic]:
    items, next_cursor = queries.endpoints_page(session, limit, cursor)
    return Page(items=[WEBHOOKS.shown(r) for r in items], next_cursor=next_cursor)


@router.get("/webhooks/{webhook_id}", response_model=WebhookPublic)
def get_webhook(webhook_id: Id, session: SessionDep) -> WebhookPublic:
    return WEBHOOKS.shown(WEBHOOKS.get(session, webhook_id))


@router.patch("/webhooks/{webhook_id}", response_model=WebhookPublic)
def update_webhook(webhook_id: Id, body: WebhookUpdate, session: SessionDep, settings: SettingsDep) -> WebhookPublic:
    ep = WEBHOOKS.get(session, webhook_id)
    try:
        endpoints.change(session, ep, body.model_dump(exclude_unset=True, exclude_none=True), _allowed(settings))
    except UnsafeTarget as exc:
        raise _unsafe(exc) from None
    session.commit()
    return WEBHOOKS.shown(ep)


@router.delete("/webhooks/{webhook_id}", status_code=204, description="Its deliveries and their log go with it.")
def delete_webhook(webhook_id: Id, session: SessionDep) -> Response:
    return deleted(session, endpoints.remove, WEBHOOKS.get(session, webhook_id))


@router.get("/webhook-deliveries", response_model=Page[WebhookDeliveryPublic])
def list_deliveries(
    session: SessionDep,
    webhook_id: Annotated[int | None, Query(description="only this webhook's")] = None,
    state: DeliveryState | None = None,
    event_type: EventType | None = None,
    limit: LimitQuery = 100,
    cursor: CursorQuery = None,
) -> Page[WebhookDeliveryPublic]:
    """Every event sent or to be sent, newest first: find the failures and replay them."""
    items, next_cursor = queries.deliveries_page(session, limit, cursor, webhook_id, state, event_type)
    return Page(items=[_delivery_public(d, t) for d, t in items], next_cursor=next_cursor)


def _detail(session: SessionDep, delivery_id: int) -> DeliveryDetail:
    d = get_or_404(session, WebhookDelivery, delivery_id, "delivery_id", "webhook delivery")
    event = session.get(WebhookEvent, d.event_id)
    assert event is not None
    attempts = queries.attempts_of(session, delivery_id)
    return DeliveryDetail(
        **_delivery_public(d, event.type).model_dump(),
        event=EventPublic(**envelope(event)),
        attempt_log=[AttemptPublic.model_validate(a, from_attributes=True) for a in attempts],
    )


@router.get("/webhook-deliveries/{delivery_id}", response_model=DeliveryDetail)
def get_delivery(delivery_id: Id, session: SessionDep) -> DeliveryDetail:
    """A delivery with the event it carries and every attempt (status code or error, duration)."""
    return _detail(session, delivery_id)


@router.post("/webhook-deliveries/{delivery_id}/replay", response_model=DeliveryDetail)
def replay_delivery(delivery_id: Id, session: SessionDep, engine: EngineDep) -> DeliveryDetail:
    """Queue the delivery to be sent again now (a failed one too); earlier attempts stay in its log."""
    session.rollback()  # end the request's read transaction: on SQLite it would block the write below
    if replay(engine, delivery_id) is None:
        _detail(session, delivery_id)  # raises the 404
    session.expire_all()
    return _detail(session, delivery_id)

"""The reads of webhooks out: endpoints, deliveries with their event type, a delivery's attempts."""

from collections.abc import Sequence

from sqlmodel import Session, col, select

from app.db import where_given
from app.keyset import after_id, fetch
from app.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent


def endpoints_page(session: Session, limit: int, cursor: str | None) -> tuple[list[WebhookEndpoint], str | None]:
    """Webhooks in the order they were registered."""
    return fetch(session, after_id(select(WebhookEndpoint), col(WebhookEndpoint.id), cursor), limit)


def deliveries_page(
    session: Session,
    limit: int,
    cursor: str | None,
    webhook_id: int | None = None,
    state: str | None = None,
    event_type: str | None = None,
) -> tuple[list[tuple[WebhookDelivery, str]], str | None]:
    """(delivery, its event's type), newest first."""
    query = select(WebhookDelivery, col(WebhookEvent.type)).join(
        WebhookEvent, col(WebhookEvent.id) == col(WebhookDelivery.event_id)
    )
    query = where_given(
        query,
        (col(WebhookDelivery.endpoint_id), webhook_id),
        (col(WebhookDelivery.state), state),
        (col(WebhookEvent.type), event_type),
    )
    query = after_id(query, col(WebhookDelivery.id), cursor, descending=True)
    return fetch(session, query, limit, key=lambda r: (r[0].id,), scalars=False)


def attempts_of(session: Session, delivery_id: int) -> Sequence[WebhookAttempt]:
    """A delivery's attempts, oldest first."""
    return session.exec(
        select(WebhookAttempt).where(col(WebhookAttempt.delivery_id) == delivery_id).order_by(col(WebhookAttempt.id))
    ).all()

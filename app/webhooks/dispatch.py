"""The dispatcher: claim due deliveries, POST each signed event, record the attempt and the next try.

A claim is a short lease (SKIP LOCKED on PostgreSQL, so several processes share the queue); the POST
happens outside any transaction; a crash mid-POST leaves the lease to expire and the delivery is tried
again (receivers de-duplicate by the event id header). Retries back off exponentially from
`webhook_retry_base_seconds` and stop `webhook_retry_hours` after the event."""

import json
import logging
import ssl
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import Engine, insert, or_, select, update
from sqlmodel import col

from app.db import is_sqlite, session_scope
from app.metrics import counters
from app.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent, utcnow
from app.settings import Settings
from app.webhooks.signing import EVENT_ID_HEADER, EVENT_TYPE_HEADER, SIGNATURE_HEADER, sign
from app.webhooks.url_safety import AllowList, UnsafeTarget, target

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=2)
USER_AGENT = "bulkmail-webhooks/1"


@dataclass(frozen=True)
class Due:
    delivery_id: int
    attempts: int
    url: str
    secret: str
    event_id: int
    event_type: str
    event_created_at: datetime
    body: bytes


def envelope(event: WebhookEvent) -> dict[str, Any]:
    """What the receiver gets: the event id (for de-duplication), its type, its UTC time and its data."""
    return {"id": event.id, "type": event.type, "created_at": event.created_at.isoformat(), "data": event.data}


def claim(engine: Engine, now: datetime, batch: int = 50) -> list[Due]:
    with session_scope(engine) as session:
        query = (
            select(col(WebhookDelivery.id))
            .where(
                col(WebhookDelivery.state) == "pending",
                col(WebhookDelivery.next_attempt_at) <= now,
                or_(col(WebhookDelivery.lease_until).is_(None), col(WebhookDelivery.lease_until) < now),
            )
            .order_by(col(WebhookDelivery.next_attempt_at))
            .limit(batch)
        )
        if not is_sqlite(engine):
            query = query.with_for_update(skip_locked=True)
        ids = list(session.execute(query).scalars())
        if not ids:
            return []
        session.execute(update(WebhookDelivery).where(col(WebhookDelivery.id).in_(ids)).values(lease_until=now + LEASE))
        rows = session.execute(
            select(WebhookDelivery, WebhookEndpoint, WebhookEvent)
            .join(WebhookEndpoint, col(WebhookEndpoint.id) == WebhookDelivery.endpoint_id)
            .join(WebhookEvent, col(WebhookEvent.id) == WebhookDelivery.event_id)
            .where(col(WebhookDelivery.id).in_(ids))
        ).all()
        return [
            Due(
                d.id,
                d.attempts,
                ep.url,
                ep.secret,
                ev.id,
                ev.type,
                ev.created_at,
                json.dumps(envelope(ev), separators=(",", ":")).encode(),
            )
            for d, ep, ev in rows
        ]


def _connection_failure(exc: httpx.HTTPError, timeout: float) -> str:
    """A reason in words for a failed POST; the exception's own text (addresses, errno) stays out of the log."""
    chain: list[BaseException] = []
    cause: BaseException | None = exc
    while cause is not None and len(chain) < 5:
        chain.append(cause)
        cause = cause.__cause__ or cause.__context__
    if isinstance(exc, httpx.ConnectTimeout):
        return f"the receiver did not accept a connection within {timeout:g} s"
    if isinstance(exc, httpx.ConnectError):
        if any(isinstance(c, ssl.SSLError) for c in chain):
            return "the TLS handshake with the receiver failed (its certificate or TLS setup)"
        return "could not connect to the receiver (connection refused or unreachable)"
    if isinstance(exc, httpx.TimeoutException):
        return f"the receiver did not answer within {timeout:g} s"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "the receiver closed the connection without a valid HTTP answer"
    if isinstance(exc, httpx.NetworkError):
        return "the connection to the receiver broke off"
    return "the request to the receiver failed"


def post(client: httpx.Client, due: Due, allow: AllowList) -> tuple[int | None, str | None, int]:
    """(status code, error, milliseconds) of one POST; never raises for network trouble.

    The host is resolved and checked here, once, and the POST goes to the checked address: a target that
    is refused is never connected to, so its log line is the same whether anything listens there."""
    started = time.monotonic()
    try:
        to = target(due.url, allow)
    except UnsafeTarget as exc:
        return None, f"not sent: {exc}", int((time.monotonic() - started) * 1000)
    headers = {
        "Host": to.host_header,
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        SIGNATURE_HEADER: sign(due.secret, int(time.time()), due.body),
        EVENT_ID_HEADER: str(due.event_id),
        EVENT_TYPE_HEADER: due.event_type,
    }
    extensions = {"sni_hostname": to.sni} if to.sni else None
    try:
        response = client.post(to.url, content=due.body, headers=headers, extensions=extensions)
    except httpx.HTTPError as exc:
        reason = _connection_failure(exc, client.timeout.connect or 0.0)
        return None, reason, int((time.monotonic() - started) * 1000)
    ms = int((time.monotonic() - started) * 1000)
    if 200 <= response.status_code < 300:
        return response.status_code, None, ms
    if response.is_redirect:  # not followed: the next hop would escape the check above
        location = response.headers.get("location", "")[:500]
        problem = (
            f"HTTP {response.status_code}: the receiver redirects to {location};"
            " redirects are not followed, register the final URL"
        )
        return response.status_code, problem, ms
    return response.status_code, f"HTTP {response.status_code}: {response.text[:500]}", ms


def next_attempt(settings: Settings, due: Due, attempts: int, now: datetime) -> datetime | None:
    """When to try again after `attempts` failures, or None once past the retry window."""
    delay = settings.webhook_retry_base_seconds * 2 ** (attempts - 1)
    at = now + timedelta(seconds=delay)
    give_up = due.event_created_at + timedelta(hours=settings.webhook_retry_hours)
    if now >= give_up:
        return None
    return min(at, give_up)


def record(engine: Engine, settings: Settings, due: Due, result: tuple[int | None, str | None, int]) -> str:
    code, error, ms = result
    now = utcnow()
    attempts = due.attempts + 1
    values: dict[str, Any] = {"attempts": attempts, "last_status_code": code, "last_error": error, "lease_until": None}
    if error is None:
        values.update(state="delivered", delivered_at=now, next_attempt_at=None)
    else:
        retry = next_attempt(settings, due, attempts, now)
        values.update(state="pending" if retry else "failed", next_attempt_at=retry)
    with session_scope(engine) as session:
        session.execute(update(WebhookDelivery).where(col(WebhookDelivery.id) == due.delivery_id).values(**values))
        session.execute(
            insert(WebhookAttempt).values(
                delivery_id=due.delivery_id, at=now, status_code=code, error=error, duration_ms=ms
            )
        )
        if error is not None:
            counters.add(session, counters.webhook_failure(gave_up=values["state"] == "failed"))
    if error is not None:
        # the host alone: a URL may carry credentials (user:password@) or a token in its path or query
        host = urlsplit(due.url).hostname
        log.warning("webhook delivery %s to %s failed (attempt %s): %s", due.delivery_id, host, attempts, error)
    return values["state"]


def dispatch_due(settings: Settings, engine: Engine, max_batches: int = 20) -> int:
    """Send what is due now; returns the number of attempts made."""
    made = 0
    allow = AllowList.parse(settings.webhook_allowed_networks)
    # trust_env off: a proxy from the environment would connect on its own, past the address check;
    # no keep-alive: the pool is keyed by IP, and a TLS connection made for one host name must not carry another's
    with httpx.Client(
        timeout=settings.webhook_timeout_seconds,
        follow_redirects=False,
        trust_env=False,
        limits=httpx.Limits(max_keepalive_connections=0),
    ) as client:
        for _ in range(max_batches):
            batch = claim(engine, utcnow())
            if not batch:
                break
            for due in batch:
                record(engine, settings, due, post(client, due, allow))
                made += 1
    return made


def replay(engine: Engine, delivery_id: int) -> WebhookDelivery | None:
    """Send a delivery again now, whatever its state; its attempts so far stay in the log."""
    with session_scope(engine) as session:
        delivery = session.get(WebhookDelivery, delivery_id)
        if delivery is None:
            return None
        delivery.state, delivery.next_attempt_at, delivery.lease_until = "pending", utcnow(), None
        session.add(delivery)
        return delivery

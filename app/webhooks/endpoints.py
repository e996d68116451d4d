"""Webhook endpoints: register one with a fresh secret, change it, remove it (the caller commits). A URL
that resolves to an address webhooks may not reach raises UnsafeTarget (checked again at each delivery)."""

from collections.abc import Sequence
from typing import Any

from sqlmodel import Session

from app.db import save_given
from app.models import WebhookEndpoint
from app.webhooks.signing import new_secret
from app.webhooks.url_safety import AllowList, target


def register(
    session: Session, url: str, events: Sequence[str], description: str, active: bool, allow: AllowList
) -> WebhookEndpoint:
    """A new endpoint for those events (each once, sorted), with its own signing secret."""
    target(url, allow)
    endpoint = WebhookEndpoint(
        url=url, events=sorted(set(events)), description=description, active=active, secret=new_secret()
    )
    session.add(endpoint)
    return endpoint


def change(session: Session, endpoint: WebhookEndpoint, changes: dict[str, Any], allow: AllowList) -> None:
    """Set the fields given; events are kept each once, sorted."""
    if "url" in changes:
        target(changes["url"], allow)
    if "events" in changes:
        changes = {**changes, "events": sorted(set(changes["events"]))}
    save_given(session, endpoint, **changes)


def remove(session: Session, endpoint: WebhookEndpoint) -> None:
    """Its deliveries and their log go with it."""
    session.delete(endpoint)

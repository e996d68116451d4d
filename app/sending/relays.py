"""The relays a campaign may send through (besides the settings' relay, the implicit one while no relay is
stored): create, change, remove (the caller commits), the connection settings of one, and the state the
sending workers record for each (up, or down since when and why)."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from pydantic import SecretStr
from sqlalchemy import func
from sqlmodel import Session, col, select

from app.db import save_given
from app.keyset import in_order_made, page_in_order_made
from app.models import Campaign, Relay, SendingIdentity, utcnow
from app.models.states import CampaignState
from app.sealed import seal, unseal
from app.sending.refused import Refused
from app.sending.relay_schemas import RelayCreate, RelayPublic
from app.settings import Settings

# campaigns that may still send: a relay they name cannot go
LIVE_STATES = (CampaignState.DRAFT, CampaignState.SCHEDULED, CampaignState.SENDING, CampaignState.PAUSED)


class RelayRefused(Refused):
    """A value a relay cannot take, or a relay that cannot go."""


@dataclass(frozen=True)
class RelayStatus:
    """What a sending worker saw of a relay: None when it answered, else since when and why not."""

    relay_id: int
    down_since: datetime | None
    problem: str | None


def public(relay: Relay) -> RelayPublic:
    assert relay.id is not None  # a stored relay
    if not relay.enabled:
        state = "disabled"
    elif relay.down_since is not None:
        state = "down"
    else:
        state = "up" if relay.last_ok_at is not None else "unknown"
    return RelayPublic(
        **relay.model_dump(exclude={"password_sealed"}), has_password=bool(relay.password_sealed), state=state
    )


def _unique_name(session: Session, name: str | None, relay: Relay | None) -> None:
    if name is None:
        return
    taken = session.exec(select(Relay.id).where(Relay.name == name)).first()
    if taken is not None and (relay is None or taken != relay.id):
        raise RelayRefused("name", f"a relay named {name!r} exists already", 409)


def create(session: Session, settings: Settings, body: RelayCreate) -> Relay:
    _unique_name(session, body.name, None)
    values = body.model_dump(exclude={"password"})
    relay = Relay(**values, password_sealed=seal(settings, body.password) if body.password else None)
    session.add(relay)
    session.flush()
    return relay


def change(session: Session, settings: Settings, relay: Relay, changes: dict[str, Any]) -> None:
    """Set the fields given; an empty username or password removes it."""
    _unique_name(session, changes.get("name"), relay)
    password = changes.pop("password", None)
    if password is not None:
        relay.password_sealed = seal(settings, password) if password else None
    if changes.get("username") == "":
        relay.username = None
        changes.pop("username")
    if changes.get("host") is not None or changes.get("port") is not None or changes.get("enabled") is False:
        relay.down_since, relay.last_error, relay.last_ok_at = None, None, None  # a new place: state unknown
    save_given(session, relay, **changes, updated_at=utcnow())


def remove(session: Session, relay: Relay) -> None:
    """Refused while an identity or a campaign that may still send names it."""
    for identity in session.exec(select(SendingIdentity)):
        if relay.id in identity.relay_ids:
            raise RelayRefused("relay_id", f"identity {identity.name!r} sends through this relay", 409)
    for campaign in session.exec(select(Campaign).where(col(Campaign.state).in_(LIVE_STATES))):
        if relay.id in campaign.relay_ids:
            raise RelayRefused("relay_id", f"campaign {campaign.name!r} sends through this relay", 409)
    session.delete(relay)


# listed in the order they were made
relays_ordered = partial(in_order_made, Relay)
relays_page = partial(page_in_order_made, Relay)


def enabled_relays(session: Session) -> list[Relay]:
    return list(session.exec(select(Relay).where(col(Relay.enabled)).order_by(col(Relay.id))))


def all_relays(session: Session) -> list[Relay]:
    """For a choice of relays on a form (a handful per installation)."""
    return list(session.exec(select(Relay).order_by(col(Relay.name))))


def fingerprint(session: Session) -> tuple[Any, ...]:
    """Changes when a relay or an identity is added, changed or removed: a worker then starts afresh."""
    relays = session.execute(select(func.count(), func.max(Relay.updated_at))).one()
    identities = session.execute(select(func.count(), func.max(SendingIdentity.updated_at))).one()
    return (*relays, *identities)


def connection_settings(settings: Settings, relay: Relay) -> Settings:
    """SETTINGS with the relay's place, credentials, connections and rate as the SMTP relay."""
    password = unseal(settings, relay.password_sealed) if relay.password_sealed else None
    return settings.model_copy(
        update={
            "smtp_host": relay.host,
            "smtp_port": relay.port,
            "smtp_security": relay.security,
            "smtp_username": relay.username,
            "smtp_password": SecretStr(password) if password is not None else None,
            "smtp_connections": relay.connections,
            "smtp_rate": relay.rate,
        }
    )


def settings_for(session: Session, settings: Settings, relay_ids: Sequence[int]) -> Settings:
    """The relay a single message (a test send) goes through: the heaviest enabled one the campaign may use,
    else the settings' relay."""
    return relay_for(session, settings, relay_ids)[1]


def relay_for(session: Session, settings: Settings, relay_ids: Sequence[int]) -> tuple[str | None, Settings]:
    """The name (None: the settings' relay) and connection settings of the relay a single message goes through."""
    usable = [r for r in enabled_relays(session) if not relay_ids or r.id in relay_ids]
    if not usable:
        return None, settings
    relay = max(usable, key=lambda r: r.weight)
    return relay.name, connection_settings(settings, relay)


def record_states(session: Session, states: Sequence[RelayStatus]) -> None:
    """What the workers saw; a relay that answered is up again (its last problem is cleared)."""
    now = utcnow()
    for status in states:
        relay = session.get(Relay, status.relay_id)
        if relay is None:
            continue
        if status.problem is None:
            relay.down_since, relay.last_error, relay.last_ok_at = None, None, now
        else:
            relay.down_since = relay.down_since or status.down_since
            relay.last_error = status.problem[:2000]
        session.add(relay)

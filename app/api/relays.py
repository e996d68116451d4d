"""/api/v1 routes for relays: add, read (with each relay's state), change, remove. Passwords are write-only."""

from fastapi import APIRouter, Response

from app.api.errors import refusals
from app.api.pagination import CursorQuery, LimitQuery, Page
from app.api.resources import Resource, deleted
from app.deps import Id, SessionDep, SettingsDep
from app.models import Relay
from app.sending import relays
from app.sending.relay_schemas import RelayCreate, RelayPublic, RelayUpdate

router = APIRouter(tags=["relays"])

RELAYS = Resource(Relay, RelayPublic, "relay_id", "relay")


@router.get("/relays", response_model=Page[RelayPublic])
def list_relays(session: SessionDep, limit: LimitQuery = 100, cursor: CursorQuery = None) -> Page[RelayPublic]:
    """Relays in the order they were added, each with its state as the sending workers last saw it."""
    items, next_cursor = relays.relays_page(session, limit, cursor)
    return Page(items=[relays.public(r) for r in items], next_cursor=next_cursor)


@router.post("/relays", response_model=RelayPublic, status_code=201)
def create_relay(body: RelayCreate, session: SessionDep, settings: SettingsDep) -> RelayPublic:
    """Once a relay is stored, campaigns go through the stored relays (shared by weight; one that cannot be
    reached or refuses hands its messages to the others) instead of the settings' relay."""
    with refusals():
        relay = relays.create(session, settings, body)
    session.commit()
    return relays.public(relay)


@router.get("/relays/{relay_id}", response_model=RelayPublic)
def get_relay(relay_id: Id, session: SessionDep) -> RelayPublic:
    return relays.public(RELAYS.get(session, relay_id))


@router.patch("/relays/{relay_id}", response_model=RelayPublic)
def update_relay(relay_id: Id, body: RelayUpdate, session: SessionDep, settings: SettingsDep) -> RelayPublic:
    relay = RELAYS.get(session, relay_id)
    with refusals():
        relays.change(session, settings, relay, body.model_dump(exclude_unset=True, exclude_none=True))
    session.commit()
    return relays.public(relay)


@router.delete("/relays/{relay_id}", status_code=204, description="Refused while an identity or campaign uses it.")
def delete_relay(relay_id: Id, session: SessionDep) -> Response:
    with refusals(RELAYS.param):
        return deleted(session, relays.remove, RELAYS.get(session, relay_id))

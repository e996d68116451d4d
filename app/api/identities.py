"""/api/v1 routes for sending identities: create (with a new DKIM key), read (with the DNS record to
publish), change, remove. The private key never leaves bulkmail."""

from fastapi import APIRouter, Response

from app.api.errors import refusals
from app.api.pagination import CursorQuery, LimitQuery, Page
from app.api.resources import Resource, deleted
from app.deps import Id, SessionDep, SettingsDep
from app.models import SendingIdentity
from app.sending import identities
from app.sending.identity_schemas import IdentityCreate, IdentityPublic, IdentityUpdate

router = APIRouter(tags=["identities"])

IDENTITIES = Resource(SendingIdentity, IdentityPublic, "identity_id", "identity")


@router.get("/identities", response_model=Page[IdentityPublic])
def list_identities(session: SessionDep, limit: LimitQuery = 100, cursor: CursorQuery = None) -> Page[IdentityPublic]:
    items, next_cursor = identities.identities_page(session, limit, cursor)
    return Page(items=[identities.public(i) for i in items], next_cursor=next_cursor)


@router.post("/identities", response_model=IdentityPublic, status_code=201)
def create_identity(body: IdentityCreate, session: SessionDep, settings: SettingsDep) -> IdentityPublic:
    """A new identity with its own DKIM key (RSA 2048): publish `dkim_record` in DNS before sending with it.
    A campaign that names it must send from an address at `from_domain` (DMARC alignment)."""
    with refusals():
        identity = identities.create(session, settings, body)
    session.commit()
    return identities.public(identity)


@router.get("/identities/{identity_id}", response_model=IdentityPublic)
def get_identity(identity_id: Id, session: SessionDep) -> IdentityPublic:
    return identities.public(IDENTITIES.get(session, identity_id))


@router.patch("/identities/{identity_id}", response_model=IdentityPublic)
def update_identity(
    identity_id: Id, body: IdentityUpdate, session: SessionDep, settings: SettingsDep
) -> IdentityPublic:
    identity = IDENTITIES.get(session, identity_id)
    with refusals():
        identities.change(session, settings, identity, body.model_dump(exclude_unset=True))
    session.commit()
    return identities.public(identity)


@router.delete("/identities/{identity_id}", status_code=204, description="Refused while a campaign names it.")
def delete_identity(identity_id: Id, session: SessionDep) -> Response:
    with refusals(IDENTITIES.param):
        return deleted(session, identities.remove, IDENTITIES.get(session, identity_id))

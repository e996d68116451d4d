"""/api/v1 routes for the relays (weights, failover, each one's state; passwords write-only) and the sending
identities (each with its own DKIM key, whose private half never leaves bulkmail, and the record to publish)."""

from fastapi import APIRouter

from app.api.resources import Resource
from app.api.settings_resources import Service, serve
from app.models import Relay, SendingIdentity
from app.sending import identities, relays
from app.sending.identity_schemas import IdentityCreate, IdentityPublic, IdentityUpdate
from app.sending.relay_schemas import RelayCreate, RelayPublic, RelayUpdate

router = APIRouter()

RELAYS = Resource(Relay, RelayPublic, "relay_id", "relay")

serve(
    router,
    "relays",
    "/relays",
    RELAYS,
    Service(relays.relays_page, relays.public, relays.create, relays.change, relays.remove),
    (RelayCreate, RelayUpdate),
    {
        "list": "Relays in the order they were added, each with its state as the sending workers last saw it"
        " (`up`; `down` with `down_since` and `last_error`; `unknown` before its first message; `disabled`).",
        "create": "Once a relay is stored, campaigns go through the stored relays (shared by weight; one that"
        " cannot be reached or refuses hands its messages to the others) instead of the settings' relay."
        " The password is write-only.",
        "delete": "Refused (409) while an identity or a campaign that may still send names it.",
    },
)

IDENTITIES = Resource(SendingIdentity, IdentityPublic, "identity_id", "identity")

serve(
    router,
    "identities",
    "/identities",
    IDENTITIES,
    Service(identities.identities_page, identities.public, identities.create, identities.change, identities.remove),
    (IdentityCreate, IdentityUpdate),
    {
        "list": "Sending identities in the order they were made, each with the DKIM record to publish.",
        "create": "A new identity with its own DKIM key (RSA 2048, kept sealed, never returned): publish"
        " `dkim_record` in DNS before sending with it. A campaign that names it must send from an address at"
        " `from_domain` (DMARC alignment) and is signed with d=`from_domain`.",
        "delete": "Refused (409) while a campaign names it.",
    },
)

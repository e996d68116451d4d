"""A test send: the campaign rendered for one chosen contact, sent to given addresses, outside the ledger."""

from dataclasses import dataclass

from sqlalchemy import Engine, select
from sqlmodel import Session, col

from app.addresses import InvalidAddress, normalise
from app.models import Campaign, Contact, ListMember
from app.models.states import DeliveryState
from app.secret_key import get_secret_key
from app.sending import identities, relays
from app.sending.dkim_sign import DkimSigner
from app.sending.relay import ConnectionLost, NotSendable, RelayConnection
from app.sending.render import RenderFailed
from app.settings import Settings

MAX_TEST_ADDRESSES = 20


@dataclass(frozen=True)
class TestSendResult:
    address: str
    ok: bool
    reply: str


def _contact_for(session: Session, campaign: Campaign, contact_id: int | None) -> Contact | None:
    if contact_id is not None:
        contact = session.get(Contact, contact_id)
        if contact is None:
            raise LookupError(f"contact_id: no contact {contact_id}")
        return contact
    if not campaign.list_ids:
        return None
    return (
        session.execute(
            select(Contact)
            .join(ListMember, col(ListMember.contact_id) == Contact.id)
            .where(col(ListMember.list_id).in_(campaign.list_ids))
            .order_by(col(Contact.id))
            .limit(1)
        )
        .scalars()
        .first()
    )


def test_send(
    session: Session, engine: Engine, settings: Settings, campaign: Campaign, to: list[str], contact_id: int | None
) -> list[TestSendResult]:
    """Raises ValueError (naming the field) for bad input and RelayError when the relay cannot be used."""
    if not to:
        raise ValueError("to: give at least one address")
    if len(to) > MAX_TEST_ADDRESSES:
        raise ValueError(f"to: at most {MAX_TEST_ADDRESSES} addresses")
    addresses = []
    for i, raw in enumerate(to):
        try:
            addresses.append(normalise(raw).email)
        except InvalidAddress as exc:
            raise ValueError(f"to[{i}]: {exc}") from exc
    contact = _contact_for(session, campaign, contact_id)
    who = (contact.first_name, contact.last_name, contact.attributes, contact.id) if contact else (None, None, {}, 0)
    secret = get_secret_key(settings, engine)
    composer = identities.composer(session, campaign, settings, secret, DkimSigner.from_settings(settings))
    relay = relays.settings_for(session, settings, composer.relay_ids)
    session.rollback()  # only reads: no transaction (on SQLite, the write lock) while rendering and sending
    conn = RelayConnection(relay)
    results = []
    try:
        for address in addresses:
            try:
                env = composer.compose(address, who[0], who[1], who[2], contact_id=who[3])
            except RenderFailed as exc:
                raise ValueError(f"contact_id: {exc}") from exc
            try:
                reply = conn.send(env)
            except NotSendable as exc:
                results.append(TestSendResult(address, False, str(exc)))
                continue
            except ConnectionLost as exc:
                results.append(TestSendResult(address, False, f"connection lost: {exc.text}"))
                continue
            results.append(TestSendResult(address, reply.kind == DeliveryState.SENT, f"{reply.code} {reply.text}"))
    finally:
        conn.close()
    return results

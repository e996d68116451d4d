"""Sending identities: who a campaign is from. Each has a From domain, defaults (From name, reply-to), a
bounce address (its VERP domain), its relays, custom headers and a DKIM key generated here (RSA 2048; the
private key sealed with app.sealed, never returned; the TXT record to publish is shown). The caller commits."""

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlmodel import Session, col, select

from app.addresses import InvalidAddress, normalise
from app.db import save_given
from app.keyset import in_order_made, page_in_order_made
from app.models import Campaign, MailingList, Relay, SendingIdentity, utcnow
from app.sealed import seal, unseal
from app.sending import bodies
from app.sending import headers as custom
from app.sending.compose import Composer
from app.sending.dkim_sign import DkimSigner
from app.sending.identity_schemas import DnsRecord, IdentityCreate, IdentityPublic
from app.sending.refused import Refused
from app.sending.render import render_limits
from app.settings import Settings
from app.tracking import links

KEY_BITS = 2048


class IdentityRefused(Refused):
    """A value an identity cannot take, or an identity that cannot go."""


def new_dkim_key() -> tuple[str, str]:
    """(private key PEM, public key as base64 DER: the p= of the DNS record)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    ).decode("ascii")
    public = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return private, base64.b64encode(public).decode("ascii")


def default_selector() -> str:
    return f"bm{utcnow():%Y%m}"


def dkim_record(identity: SendingIdentity) -> DnsRecord:
    return DnsRecord(
        name=f"{identity.dkim_selector}._domainkey.{identity.from_domain}",
        type="TXT",
        value=f"v=DKIM1; k=rsa; p={identity.dkim_public_key}",
    )


def public(identity: SendingIdentity) -> IdentityPublic:
    """Everything but the private key."""
    return IdentityPublic(**identity.model_dump(exclude={"dkim_private_key_sealed"}), dkim_record=dkim_record(identity))


def signer(settings: Settings, identity: SendingIdentity) -> DkimSigner:
    private = unseal(settings, identity.dkim_private_key_sealed).encode("ascii")
    return DkimSigner(identity.dkim_selector, identity.from_domain, private)


def _address(field: str, value: str | None) -> str | None:
    if not value:
        return None
    try:
        return normalise(value).email
    except InvalidAddress as exc:
        raise IdentityRefused(field, str(exc)) from None


def _checked(session: Session, values: dict[str, Any], identity: SendingIdentity | None) -> dict[str, Any]:
    """The values with addresses normalised; IdentityRefused naming the first field that cannot be."""
    out = dict(values)
    for field in ("reply_to", "bounce_address"):
        if field in out and out[field] is not None:
            out[field] = _address(field, out[field])
    if out.get("relay_ids") is not None:
        out["relay_ids"] = sorted(set(out["relay_ids"]))
        known = set(session.exec(select(Relay.id).where(col(Relay.id).in_(out["relay_ids"]))))
        missing = [i for i in out["relay_ids"] if i not in known]
        if missing:
            raise IdentityRefused("relay_ids", f"no such relay: {', '.join(map(str, missing))}")
    if out.get("headers") is not None:
        try:
            out["headers"] = custom.checked_headers(out["headers"])
        except custom.HeaderRefused as exc:
            raise IdentityRefused("headers", str(exc)) from None
    name = out.get("name")
    if name is not None:
        taken = session.exec(select(SendingIdentity.id).where(SendingIdentity.name == name)).first()
        if taken is not None and (identity is None or taken != identity.id):
            raise IdentityRefused("name", f"an identity named {name!r} exists already", 409)
    return out


def create(session: Session, settings: Settings, body: IdentityCreate) -> SendingIdentity:
    values = _checked(session, body.model_dump(), None)
    private, public = new_dkim_key()
    identity = SendingIdentity(
        name=values["name"],
        from_domain=values["from_domain"],
        from_name=values["from_name"],
        reply_to=values["reply_to"],
        bounce_address=values["bounce_address"] or f"noreply@{values['from_domain']}",
        relay_ids=values["relay_ids"],
        headers=values["headers"],
        dkim_selector=values["dkim_selector"] or default_selector(),
        dkim_private_key_sealed=seal(settings, private),
        dkim_public_key=public,
    )
    session.add(identity)
    session.flush()
    return identity


def change(session: Session, settings: Settings, identity: SendingIdentity, changes: dict[str, Any]) -> None:
    """Set the fields given; new_dkim_key makes a new key (with dkim_selector as its selector when given)."""
    rotate = changes.pop("new_dkim_key", False)
    selector = changes.pop("dkim_selector", None)
    if selector is not None and not rotate:
        raise IdentityRefused("dkim_selector", "a new selector comes with a new key: set new_dkim_key too")
    values = _checked(session, changes, identity)
    if "reply_to" in changes and changes["reply_to"] is None:
        identity.reply_to = None  # an explicit null clears it
    if rotate:
        private, public = new_dkim_key()
        values |= {
            "dkim_private_key_sealed": seal(settings, private),
            "dkim_public_key": public,
            "dkim_selector": selector or default_selector(),
        }
    save_given(session, identity, **values, updated_at=utcnow())


def remove(session: Session, identity: SendingIdentity) -> None:
    """Refused while a campaign names it (a sent one's ledger says who it was from)."""
    used = session.exec(select(Campaign.name).where(Campaign.identity_id == identity.id)).first()
    if used is not None:
        raise IdentityRefused("identity_id", f"campaign {used!r} uses this identity", 409)
    session.delete(identity)


# listed in the order they were made
identities_ordered = partial(in_order_made, SendingIdentity)
identities_page = partial(page_in_order_made, SendingIdentity)


def all_identities(session: Session) -> list[SendingIdentity]:
    """For a campaign's choice of identity (a handful per installation)."""
    return list(session.exec(select(SendingIdentity).order_by(col(SendingIdentity.name))))


def campaign_problems(session: Session, campaign: Campaign) -> list[tuple[str, str]]:
    """What stops the campaign's identity, relays and headers from being used, as (field, message)."""
    problems = []
    if campaign.identity_id is not None:
        identity = session.get(SendingIdentity, campaign.identity_id)
        if identity is None:
            problems.append(("identity_id", f"no such identity: {campaign.identity_id}"))
        else:
            domain = campaign.from_address.rpartition("@")[2].lower()
            if domain != identity.from_domain and not domain.endswith("." + identity.from_domain):
                problems.append(
                    ("from_address", f"must be an address at {identity.from_domain}, the identity's From domain")
                )
    if campaign.relay_ids:
        known = set(session.exec(select(Relay.id).where(col(Relay.id).in_(campaign.relay_ids))))
        missing = [i for i in campaign.relay_ids if i not in known]
        if missing:
            problems.append(("relay_ids", f"no such relay: {', '.join(map(str, missing))}"))
    try:
        custom.checked_headers(campaign.headers)
    except custom.HeaderRefused as exc:
        problems.append(("headers", str(exc)))
    return problems


@dataclass(frozen=True)
class Sending:
    """How a campaign's messages go out: whose they are and through which relays (empty: any)."""

    identity: SendingIdentity | None
    relay_ids: tuple[int, ...]


def sending_of(session: Session, campaign: Campaign) -> Sending:
    identity = session.get(SendingIdentity, campaign.identity_id) if campaign.identity_id is not None else None
    relays: Sequence[int] = campaign.relay_ids or (identity.relay_ids if identity is not None else [])
    return Sending(identity, tuple(relays))


def composer(
    session: Session, campaign: Campaign, settings: Settings, secret: bytes, default_signer: DkimSigner | None
) -> Composer:
    """The campaign's Composer: signed with its identity's key (d= its From domain), its bounce address and
    defaults, List-Id, Feedback-ID and the custom headers; without an identity, the settings' sender."""
    how = sending_of(session, campaign)
    identity = how.identity
    first_list = session.get(MailingList, min(campaign.list_ids)) if campaign.list_ids else None
    if identity is not None:
        settings = settings.model_copy(
            update={"bounce_address": identity.bounce_address, "message_id_domain": identity.from_domain}
        )
    domain = identity.from_domain if identity is not None else campaign.from_address.rpartition("@")[2]
    head = []
    if first_list is not None and first_list.id is not None:
        head.append(custom.list_id(first_list.id, first_list.name, domain))
    head.append(custom.feedback_id(campaign.id, first_list.id if first_list else None, campaign.identity_id))
    # the campaign's own headers win over its identity's of the same name
    merged = {
        k.lower(): (k, v) for src in (identity.headers if identity else {}, campaign.headers) for k, v in src.items()
    }
    head += custom.header_lines(dict(merged.values()))
    return Composer(
        campaign,
        settings,
        secret,
        signer(settings, identity) if identity is not None else default_signer,
        extra_head=head,
        relay_ids=how.relay_ids,
        from_name=campaign.from_name or (identity.from_name if identity else ""),
        reply_to=campaign.reply_to or (identity.reply_to if identity else None),
        sources=bodies.of_campaign(session, campaign, render_limits(settings)),
        tracker=links.rewriter(session, campaign, settings, secret),
    )

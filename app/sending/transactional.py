"""Transactional messages (a password reset, a receipt): one message to one recipient, sent now through the API.

Each lives in the ledger as any campaign delivery does: a `delivery` row (flagged `transactional`, outside the
one-row-per-address rule of bulk rows) of its sending identity's **transactional stream**, a campaign of kind
`transactional` made on first use, always sending, never listed among the campaigns and never paused by the
deliverability guard (its rates still show). So the sweep ties its bounces and complaints to it by VERP return
path and Message-ID, 4xx replies are retried on the campaigns' schedule, the contact page and the metrics count
it, and the bounce policy learns from it. Its content, rendered (bounded, with `data`; a variable the template
uses and `data` lacks is refused) when it is asked for, and who asked (API key, the sender's reference) are its
`message_content` row.

Sending: the request's own process hands it to the relay at once (app.sending.express), the row claimed by a
lease taken in the transaction that made it; whatever stops that (the relay unreachable, the process gone) leaves
the row to the sending workers, which claim transactional rows before any bulk row. At least once, as for the
campaigns: only a process killed between the relay's 250 and the commit of the result sends it twice, with the
same Message-ID.

Suppressions: a transactional message is what the recipient asked for, so an unsubscribe (from one list or from
every list) does not stop it; an address that bounced hard, complained, was erased or was blocked by hand
(`manual`) is refused, naming why."""

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select
from sqlmodel import Session, col

from app.addresses import Address, InvalidAddress, normalise
from app.db import session_scope
from app.keyset import after_id, fetch
from app.metrics import counters
from app.models import (
    Campaign,
    Contact,
    Delivery,
    MessageContent,
    MessageTemplate,
    SendingIdentity,
    Suppression,
    utcnow,
)
from app.models.states import CampaignKind, CampaignState, DeliveryState, SuppressionReason
from app.secret_key import get_secret_key
from app.sending import express, ledger, relays
from app.sending import headers as custom
from app.sending.bodies import assemble
from app.sending.dkim_sign import DkimSigner
from app.sending.identities import sending_of, signer
from app.sending.ledger import Claimed
from app.sending.refused import Refused
from app.sending.render import CampaignTemplates, RenderFailed, TemplateProblem, render_limits
from app.sending.transactional_compose import TransactionalComposer
from app.sending.transactional_schemas import MessageCreate, MessagePublic
from app.settings import Settings
from app.subscription.erasure import erased_key

# what stops a transactional message: the address itself is bad or the person asked for no mail at all
REFUSING = (
    SuppressionReason.BOUNCED,
    SuppressionReason.COMPLAINED,
    SuppressionReason.ERASED,
    SuppressionReason.MANUAL,
)
_WHY = {
    SuppressionReason.BOUNCED: "its mail bounced past the bounce policy",
    SuppressionReason.COMPLAINED: "its owner marked our mail as spam",
    SuppressionReason.ERASED: "its owner had their data erased",
    SuppressionReason.MANUAL: "it was blocked by hand",
}
_REQUEST_FIELDS = {"subject": "subject", "html": "html", "text": "text"}


def stream_for(session: Session, settings: Settings, identity: SendingIdentity | None, now: datetime) -> Campaign:
    """The identity's transactional stream (the settings' sender's when None), made on first use. Two requests
    making it at once make two; the first made is the one used from then on."""
    identity_id = identity.id if identity is not None else None
    query = select(Campaign).where(
        col(Campaign.kind) == CampaignKind.TRANSACTIONAL,
        col(Campaign.identity_id).is_(None) if identity_id is None else col(Campaign.identity_id) == identity_id,
    )
    found = session.execute(query.order_by(col(Campaign.id)).limit(1)).scalars().first()
    if found is not None:
        return found
    stream = Campaign(
        name=f"Transactional: {identity.name}" if identity is not None else "Transactional: the settings' sender",
        kind=CampaignKind.TRANSACTIONAL,
        from_address=_default_from(settings, identity),
        subject="",
        identity_id=identity_id,
        state=CampaignState.SENDING,
        guard_override=True,  # its rates show; it is never paused (a password reset must not wait for a person)
        launched_at=now,
    )
    session.add(stream)
    session.flush()
    return stream


def _default_from(settings: Settings, identity: SendingIdentity | None) -> str:
    return f"noreply@{identity.from_domain}" if identity is not None else settings.bounce_address


def composer(
    session: Session, stream: Campaign, settings: Settings, secret: bytes, default_signer: DkimSigner | None
) -> TransactionalComposer:
    """The stream's composer: its identity's DKIM key, bounce address, Message-ID domain and custom headers."""
    assert stream.id is not None
    how = sending_of(session, stream)
    identity = how.identity
    if identity is not None:
        settings = settings.model_copy(
            update={"bounce_address": identity.bounce_address, "message_id_domain": identity.from_domain}
        )
    head = [custom.feedback_id(stream.id, None, stream.identity_id)]
    head += custom.header_lines(identity.headers if identity is not None else {})
    key = signer(settings, identity) if identity is not None else default_signer
    return TransactionalComposer(stream.id, settings, secret, key, head, how.relay_ids)


def refusal(session: Session, email_key: str) -> str | None:
    """Why no transactional message may go to the address, or None."""
    keys = [email_key, erased_key(session, email_key)]
    reason = (
        session.execute(
            select(col(Suppression.reason)).where(
                col(Suppression.email_key).in_(keys),
                col(Suppression.list_id).is_(None),
                col(Suppression.reason).in_(REFUSING),
            )
        )
        .scalars()
        .first()
    )
    return None if reason is None else f"suppressed ({reason}): {_WHY.get(reason, reason)}"


def refused_rows(session: Session, rows: Iterable[Any]) -> dict[int, str]:
    """Row id -> why, for claimed transactional rows whose address was suppressed since they were asked for."""
    rows = list(rows)
    if not rows:
        return {}
    found = dict(
        session.execute(
            select(col(Suppression.email_key), col(Suppression.reason)).where(
                col(Suppression.email_key).in_({r.email_key for r in rows}),
                col(Suppression.list_id).is_(None),
                col(Suppression.reason).in_(REFUSING),
            )
        )
        .tuples()
        .all()
    )
    return {r.id: found[r.email_key] for r in rows if r.email_key in found}


def attach_contents(session: Session, rows: Iterable[Any]) -> None:
    """Load each claimed transactional row's content onto it (the sending threads never read the database)."""
    by_id = {r.id: r for r in rows}
    if by_id:
        for content in session.execute(
            select(MessageContent).where(col(MessageContent.delivery_id).in_(list(by_id)))
        ).scalars():
            by_id[content.delivery_id].content = content


def _identity(session: Session, identity_id: int | None) -> SendingIdentity | None:
    if identity_id is None:
        return None
    identity = session.get(SendingIdentity, identity_id)
    if identity is None:
        raise Refused("identity_id", f"no sending identity {identity_id}")
    return identity


def _normalised(field: str, value: str) -> Address:
    try:
        return normalise(value)
    except InvalidAddress as exc:
        raise Refused(field, str(exc)) from None


def _address(field: str, value: str) -> str:
    return _normalised(field, value).email


def _sources(session: Session, body: MessageCreate) -> tuple[str, str, str, str]:
    """(subject, html, text, language) the message renders from; Refused naming the field at fault."""
    given = body.subject is not None or body.html is not None or body.text is not None
    if body.template_id is not None:
        if given:
            raise Refused("template_id", "give a template_id or a subject with bodies, not both")
        row = session.get(MessageTemplate, body.template_id)
        if row is None or row.kind != "template":
            raise Refused("template_id", f"no saved template {body.template_id}")
        return row.subject, row.html_template, row.text_template, row.template_language
    if not (body.subject or "").strip():
        raise Refused("subject", "give a subject (or a template_id)")
    if not (body.html or "").strip() and not (body.text or "").strip():
        raise Refused("html", "give an html or a text body (or a template_id)")
    return body.subject or "", body.html or "", body.text or "", "jinja"


def _render(
    session: Session, settings: Settings, body: MessageCreate, to: str, contact: Contact | None
) -> tuple[str, str, str]:
    """The message rendered within the render limits, strict: a variable the template uses and data lacks is an
    error naming it (an empty reset link would go out otherwise)."""
    subject, html, text, language = _sources(session, body)
    from_template = body.template_id is not None
    limits = render_limits(settings)
    try:
        bodies = assemble(subject, html, text, language, None, limits)
        templates = CampaignTemplates.compile(bodies.subject, bodies.html, bodies.text, strict=True)
    except TemplateProblem as exc:
        field = "template_id" if from_template else _REQUEST_FIELDS.get(exc.field.removesuffix("_template"), "html")
        raise Refused(field, exc.detail) from None
    ctx: dict[str, Any] = {"email": to, "first_name": "", "last_name": ""}
    if contact is not None:
        ctx |= {**contact.attributes, "first_name": contact.first_name or "", "last_name": contact.last_name or ""}
    ctx |= body.data
    try:
        rendered = templates.render(ctx, limits)
    except RenderFailed as exc:
        raise Refused("data", str(exc).replace("for this contact", "with this data")) from None
    if not rendered[0].strip():
        raise Refused("template_id" if from_template else "subject", "the subject renders empty")
    return rendered[0], rendered[1] if html.strip() else "", rendered[2] if text.strip() else ""


def _from(settings: Settings, body: MessageCreate, identity: SendingIdentity | None) -> tuple[str, str, str | None]:
    address = _address("from_address", body.from_address) if body.from_address else _default_from(settings, identity)
    if identity is not None:
        domain = address.rpartition("@")[2].lower()
        if domain != identity.from_domain and not domain.endswith("." + identity.from_domain):
            raise Refused("from_address", f"must be an address at {identity.from_domain}, the identity's From domain")
    name = body.from_name if body.from_name is not None else (identity.from_name if identity is not None else "")
    reply = _address("reply_to", body.reply_to) if body.reply_to else (identity.reply_to if identity else None)
    return name, address, reply


def send(engine: Engine, settings: Settings, body: MessageCreate, api_key_id: int | None) -> MessagePublic:
    """Check, render and record the message, then hand it to the relay at once; its state as it is then.
    Raises Refused naming the field at fault (a suppressed address: `to`, with the reason)."""
    now = utcnow()
    with session_scope(engine) as session:
        recipient = _normalised("to", body.to)
        to, key = recipient.email, recipient.key
        why = refusal(session, key)
        if why is not None:
            raise Refused("to", f"{to} is {why}; transactional messages are not sent to it")
        identity = _identity(session, body.identity_id)
        from_name, from_address, reply_to = _from(settings, body, identity)
        contact = session.execute(select(Contact).where(col(Contact.email_key) == key)).scalars().first()
        subject, html, text = _render(session, settings, body, to, contact)
        stream = stream_for(session, settings, identity, now)
        assert stream.id is not None
        lease = now + timedelta(seconds=settings.worker_lease_seconds)
        row = Delivery(
            campaign_id=stream.id,
            contact_id=contact.id if contact is not None else None,
            email=to,
            email_key=key,
            state=DeliveryState.QUEUED,
            transactional=True,
            next_attempt_at=lease,  # claimed by this request: due for the workers only if it never finishes
            lease_until=lease,
            lease_owner=express.OWNER,
        )
        session.add(row)
        session.flush()
        assert row.id is not None and stream.id is not None
        content = MessageContent(
            delivery_id=row.id,
            api_key_id=api_key_id,
            reference=body.reference,
            template_id=body.template_id,
            from_name=from_name,
            from_address=from_address,
            reply_to=reply_to,
            subject=subject,
            html=html,
            text=text,
            created_at=now,
        )
        session.add(content)
        built = composer(
            session, stream, settings, get_secret_key(settings, engine), DkimSigner.from_settings(settings)
        )
        claimed = Claimed(row.id, stream.id, row.contact_id, to, key, 0, None, content=content)
        relay_name, relay = relays.relay_for(session, settings, built.relay_ids)
    outcome = express.deliver(relay, relay_name, built, claimed)
    with session_scope(engine) as session:
        ledger.record(session, [outcome], settings, outcome.at or utcnow())
        counters.add(session, counters.outcome_amounts([outcome], None))
        found = session.execute(_public_query().where(col(Delivery.id) == claimed.id)).one()
        return _public(*found)


def _public_query() -> Any:
    return (
        select(Delivery, MessageContent, col(Campaign.identity_id))
        .join(MessageContent, col(MessageContent.delivery_id) == col(Delivery.id))
        .join(Campaign, col(Campaign.id) == col(Delivery.campaign_id))
    )


def _public(delivery: Delivery, content: MessageContent, identity_id: int | None) -> MessagePublic:
    assert delivery.id is not None
    return MessagePublic(
        id=delivery.id,
        to=delivery.email,
        state=delivery.state,
        identity_id=identity_id,
        template_id=content.template_id,
        reference=content.reference,
        api_key_id=content.api_key_id,
        created_at=content.created_at,
        sent_at=delivery.sent_at,
        attempts=delivery.attempts,
        next_attempt_at=delivery.next_attempt_at if delivery.state in DeliveryState.DUE else None,
        last_reply_code=delivery.last_reply_code,
        last_reply=delivery.last_reply,
        message_id=delivery.message_id,
    )


def message(engine: Engine, message_id: int) -> MessagePublic | None:
    with Session(engine) as session:
        found = session.execute(_public_query().where(col(Delivery.id) == message_id)).first()
        return None if found is None else _public(*found)


def messages_page(session: Session, limit: int, cursor: str | None) -> tuple[list[MessagePublic], str | None]:
    """Transactional messages, newest first."""
    query = after_id(_public_query(), col(MessageContent.delivery_id), cursor, descending=True)
    rows, next_cursor = fetch(session, query, limit, key=lambda r: (r[0].id,), scalars=False)
    return [_public(*r) for r in rows], next_cursor

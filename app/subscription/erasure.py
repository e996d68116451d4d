"""Erasure: a person's data removed everywhere bulkmail holds it, and their address kept only as a
salted hash in the suppression list, so no import, CMS push or form brings them back.

What goes: the contact's address, names, attributes and CMS id (the row stays, empty, so its consent
history has something to belong to); its list memberships; its search text; the address in every
ledger row, with the relay's replies that quote it; the address, diagnostic and returned headers of
every bounce about it; the address of its signup mails; the address in stored webhook events and in import rejects that quoted it; every suppression of the address (one
`erased` suppression holding the hash replaces them). What stays: counts, states and times, and the
consent ledger, which never held the address; an `erase` row is appended to it."""

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from app.audience.search import forget
from app.audience.store import key_in
from app.models import (
    Bounce,
    Contact,
    Delivery,
    DeliveryAttempt,
    ImportReject,
    ListMember,
    MessageContent,
    StoredSetting,
    Suppression,
    TransactionalMessage,
    WebhookEvent,
)
from app.models.states import DeliveryState, MessageState, SuppressionReason
from app.subscription.consent import Action, Actor, Entry, append_one

PREFIX = "erased:"
ERASED_TEXT = "[erased]"
_SALT = "erasure_salt"
_salts: dict[str, bytes] = {}


class AlreadyErased(ValueError):
    def __init__(self, contact_id: int) -> None:
        super().__init__(f"contact {contact_id} was erased already")


def _salt(session: Session) -> bytes:
    """The installation's erasure salt, made once and kept in the database (not the secret key: a new
    secret key must not let erased people back in)."""
    url = str(session.get_bind().engine.url)
    if url in _salts:
        return _salts[url]
    row = session.get(StoredSetting, _SALT)
    if row is None:
        try:
            with session.begin_nested():
                session.add(StoredSetting(key=_SALT, value=secrets.token_hex(32)))
        except IntegrityError:  # another process made it first
            pass
        row = session.get(StoredSetting, _SALT)
        assert row is not None
    _salts[url] = str(row.value).encode()
    return _salts[url]


def erased_key(session: Session, email_key: str) -> str:
    """What the suppression list keeps of an erased address."""
    return PREFIX + hmac.new(_salt(session), email_key.encode(), hashlib.sha256).hexdigest()


def erased_among(session: Session, keys: Iterable[str]) -> set[str]:
    """The keys (dedupe keys of addresses) that belong to erased people."""
    hashed = {erased_key(session, k): k for k in keys}
    if not hashed:
        return set()
    query = select(col(Suppression.email_key)).where(key_in(session, col(Suppression.email_key), list(hashed)))
    return {hashed[h] for h in session.execute(query).scalars()}


def any_erased(session: Session) -> bool:
    """Whether anyone was ever erased here (one indexed read)."""
    query = select(col(Suppression.id)).where(col(Suppression.reason) == SuppressionReason.ERASED).limit(1)
    return session.execute(query).first() is not None


def redact(text: str, secrets_: Sequence[str]) -> str:
    """TEXT with every occurrence of each of SECRETS_ (case-insensitive) replaced."""
    for s in sorted({s for s in secrets_ if s and len(s) >= 3}, key=len, reverse=True):
        text = re.sub(re.escape(s), ERASED_TEXT, text, flags=re.IGNORECASE)
    return text


def erase(session: Session, contact: Contact, actor: Actor, now: datetime, source: str = "") -> None:
    """Erase the person this contact is; the caller commits. Raises AlreadyErased."""
    assert contact.id is not None  # a stored contact
    if contact.email_key.startswith(PREFIX):
        raise AlreadyErased(contact.id)
    key, email = contact.email_key, contact.email
    hashed = erased_key(session, key)
    local = key.rpartition("@")[0]
    quoted = [email, key, local, email.rpartition("@")[0], contact.first_name or "", contact.last_name or ""]

    # the ledger: the rows keep their state and times; the address and the replies quoting it go, and so does
    # the content of a transactional message (written for this person: a name, an order, a link)
    for d in session.execute(select(Delivery).where(col(Delivery.email_key) == key)).scalars():
        d.email, d.email_key = "", hashed
        if d.transactional:
            session.execute(
                update(MessageContent)
                .where(col(MessageContent.delivery_id) == d.id)
                .values(subject="", html="", text="", reference="")
            )
        if d.last_reply:
            d.last_reply = redact(d.last_reply, quoted)
        if d.state in DeliveryState.DUE:
            d.state, d.next_attempt_at = DeliveryState.CANCELLED, None
        for a in session.execute(select(DeliveryAttempt).where(col(DeliveryAttempt.delivery_id) == d.id)).scalars():
            if a.reply:
                a.reply = redact(a.reply, quoted)
    # signup mails: the rows keep their kind, state and times; one still due is not sent
    session.execute(
        update(TransactionalMessage)
        .where(col(TransactionalMessage.email_key) == key)
        .values(email="", email_key=hashed, last_reply="")
    )
    session.execute(
        update(TransactionalMessage)
        .where(col(TransactionalMessage.email_key) == hashed, col(TransactionalMessage.state).in_(MessageState.DUE))
        .values(state=MessageState.FAILED, next_attempt_at=None, last_reply="the contact was erased")
    )
    for b in session.execute(select(Bounce).where(col(Bounce.email_key) == key)).scalars():
        b.email, b.email_key = "", hashed
        b.diagnostic = redact(b.diagnostic, quoted)
        b.original_headers = ""
        b.evidence = redact(b.evidence, quoted)
    session.flush()
    events = select(WebhookEvent).where(col(WebhookEvent.data)["email"].as_string().in_([email, key]))
    for event in session.execute(events).scalars():
        event.data = {
            k: (redact(v, quoted) if isinstance(v, str) else v) for k, v in event.data.items() if k != "email"
        } | {"email": ERASED_TEXT}
    # an import's rejected row that quoted the address (a ragged line, a domain without MX)
    quoting = func.lower(col(ImportReject.value)).contains(key, autoescape=True)
    session.execute(update(ImportReject).where(quoting).values(value=ERASED_TEXT))
    session.execute(delete(Suppression).where(col(Suppression.email_key) == key))
    if session.execute(select(col(Suppression.id)).where(col(Suppression.email_key) == hashed)).first() is None:
        session.add(
            Suppression(email="", email_key=hashed, reason=SuppressionReason.ERASED, source="erasure", created_at=now)
        )
    session.execute(delete(ListMember).where(col(ListMember.contact_id) == contact.id))
    forget(session, [contact.id])
    contact.email, contact.email_key = "", f"{PREFIX}{contact.id}"
    contact.first_name = contact.last_name = contact.external_id = contact.language = None
    contact.attributes = {}
    contact.is_role = False
    contact.updated_at = now
    session.add(contact)
    append_one(session, Entry(contact.id, Action.ERASE, source=source), actor, now)
    session.flush()


def is_erased(contact: Contact) -> bool:
    return contact.email_key.startswith(PREFIX)

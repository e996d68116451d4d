"""Signup mails (a double opt-in's confirmation, a welcome): queued as `transactional_message` rows in the
transaction that made them, sent by a scheduler job through the campaigns' relay, retried after a 4xx on
the campaigns' schedule (BULKMAIL_RETRY_MINUTES), and tied back to by the sweep: the envelope sender is
`noreply+tTOKEN@domain` and the Message-ID `<tTOKEN@domain>`, TOKEN signing the row's id.

Rendered when sent, from the list's templates as they are then (or the defaults), so the table holds no
message text. The job has no request: each mail is rendered in its contact's language (app.audience.contacts.
language_of, else BULKMAIL_DEFAULT_LANGUAGE), which picks the default texts' translation and how `expires`
reads; a list's own templates are the marketer's text and stay as written.

A row is claimed by moving its next attempt a lease ahead, so two processes never send it at once; a process
killed after the relay took the message and before the result was written sends it again when the lease ends
(at least once, like the campaign ledger)."""

import email.policy
import logging
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime

from sqlalchemy import Engine, or_, select, update
from sqlmodel import Session, col

from app import i18n
from app.audience.contacts import language_of
from app.bounces.policy import BouncePolicy
from app.bounces.writer import bounce_row, record_findings
from app.i18n.formats import when
from app.models import Contact, MailingList, TransactionalMessage, utcnow
from app.models.states import BounceKind, BounceSource, MessageState
from app.models.types import TEXT_LENGTH
from app.secret_key import get_secret_key
from app.sending.compose import Envelope, message_id_domain
from app.sending.message import dot_stuff, one_line
from app.sending.relay import ConnectionLost, NotSendable, RelayConnection, RelayError, Reply
from app.sending.render import CampaignTemplates, RenderFailed, TemplateProblem, contact_context, render_limits
from app.sending.retry import next_attempt_at
from app.settings import Settings
from app.subscription import forms
from app.tokens import make_token, verp_address
from bounce_parsers import classify_smtp_reply

log = logging.getLogger(__name__)

CONFIRM = "confirm"
WELCOME = "welcome"
LEASE = timedelta(minutes=5)
BATCH = 50


def queue(session: Session, kind: str, list_id: int, contact: Contact, now: datetime) -> TransactionalMessage:
    """A message to send as soon as the job runs; the caller commits."""
    assert contact.id is not None  # a stored contact
    row = TransactionalMessage(
        kind=kind,
        list_id=list_id,
        contact_id=contact.id,
        email=contact.email,
        email_key=contact.email_key,
        state=MessageState.QUEUED,
        next_attempt_at=now,
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row


def confirm_url(settings: Settings, secret: bytes, message_id: int) -> str:
    return f"{settings.base_url.rstrip('/')}/s/confirm/{make_token(secret, 'k', message_id)}"


def confirm_expires(settings: Settings, created_at: datetime) -> datetime:
    return created_at + timedelta(days=settings.signup_unconfirmed_days)


def compose(session: Session, settings: Settings, secret: bytes, row: TransactionalMessage) -> Envelope:
    """The message's envelope and bytes, in the contact's language. Raises RenderFailed (a template that fails
    for this contact)."""
    contact = session.get(Contact, row.contact_id)
    with i18n.speaking(language_of(contact) if contact else None, settings.default_language):
        return _compose(session, settings, secret, row, contact)


def _compose(
    session: Session, settings: Settings, secret: bytes, row: TransactionalMessage, contact: Contact | None
) -> Envelope:
    assert row.id is not None  # a stored row
    ml = session.get(MailingList, row.list_id) if row.list_id is not None else None
    form = forms.settings_of(session, ml.id) if ml is not None and ml.id is not None else None
    if row.kind == CONFIRM:
        subject = (form.confirm_subject if form else "") or forms.default_confirm_subject()
        text = (form.confirm_text if form and form.confirm_text.strip() else "") or forms.default_confirm_text()
    else:
        subject = (form.welcome_subject if form else "") or forms.default_welcome_subject()
        text = (form.welcome_text if form and form.welcome_text.strip() else "") or forms.default_welcome_text()
    ctx = contact_context(
        row.email,
        contact.first_name if contact else None,
        contact.last_name if contact else None,
        contact.attributes if contact else {},
    )
    ctx |= {
        "list_name": ml.name if ml else "",
        "confirm_url": confirm_url(settings, secret, row.id),
        "expires": when(confirm_expires(settings, row.created_at)),
    }
    try:
        templates = CampaignTemplates.compile(subject, "", text)
    except TemplateProblem as exc:
        raise RenderFailed(f"the {exc.field} template does not parse: {exc.detail}", "text") from exc
    rendered_subject, rendered_text = templates.render(ctx, render_limits(settings), ("subject", "text"))
    token = make_token(secret, "t", row.id)
    domain = message_id_domain(settings)
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["From"] = f"{one_line(ml.name) if ml else 'bulkmail'} <{settings.bounce_address}>"
    msg["To"] = row.email
    msg["Subject"] = one_line(rendered_subject)
    msg["Date"] = format_datetime(utcnow())
    msg["Message-ID"] = f"<{token}@{domain}>"
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(rendered_text)
    sender = verp_address(settings.bounce_address, token)
    data = dot_stuff(msg.as_bytes())
    return Envelope(sender, row.email, data, None, None, msg["Message-ID"], smtputf8=not row.email.isascii())


def _claim(engine: Engine, now: datetime) -> list[int]:
    """Due rows, each moved a lease ahead so no other process takes it meanwhile."""
    with Session(engine) as session:
        due = (
            session.execute(
                select(col(TransactionalMessage.id), col(TransactionalMessage.next_attempt_at))
                .where(
                    col(TransactionalMessage.state).in_(MessageState.DUE),
                    col(TransactionalMessage.next_attempt_at) <= now,
                )
                .order_by(col(TransactionalMessage.next_attempt_at))
                .limit(BATCH)
            )
            .tuples()
            .all()
        )
        claimed = []
        for message_id, at in due:
            moved = session.execute(
                update(TransactionalMessage)
                .where(col(TransactionalMessage.id) == message_id, col(TransactionalMessage.next_attempt_at) == at)
                .values(next_attempt_at=now + LEASE)
            )
            if moved.rowcount:  # type: ignore[attr-defined]
                claimed.append(message_id)
        session.commit()
    return claimed


def _record(session: Session, settings: Settings, row: TransactionalMessage, reply: Reply, now: datetime) -> None:
    """The relay's answer on the row: sent; a 4xx retried on the schedule (then expired); a 5xx failed, with
    a bounce row attributed to the message (the bounce policy counts it like a campaign's)."""
    row.attempts += 1
    row.last_reply = f"{reply.code} {reply.text}"[:TEXT_LENGTH]
    if reply.code // 100 == 2:
        row.state, row.sent_at, row.next_attempt_at = MessageState.SENT, now, None
    elif reply.code // 100 == 4:
        again = next_attempt_at(row.created_at, row.attempts, settings.retry_minutes)
        row.state, row.next_attempt_at = (MessageState.DEFERRED, again) if again else (MessageState.EXPIRED, None)
    else:
        row.state, row.next_attempt_at = MessageState.FAILED, None
        reason, hard = classify_smtp_reply(reply.code, reply.text)
        bounce = bounce_row(
            kind=BounceKind.BOUNCE,
            reason=reason,
            hard=hard,
            email=row.email,
            email_key=row.email_key,
            reply_code=str(reply.code),
            diagnostic=reply.text,
            remote_mta=settings.smtp_host,
            transactional_id=row.id,
            attribution="ledger",
            source=BounceSource.SMTP,
            now=now,
        )
        record_findings(session, [bounce], BouncePolicy.from_settings(settings), now)
    session.add(row)


def send_due(engine: Engine, settings: Settings, now: datetime | None = None) -> int:
    """Send what is due, a batch at a time, until nothing is; returns how many the relay took. A relay
    that cannot be reached leaves the rows due a backoff later, not counting as an attempt."""
    secret = get_secret_key(settings, engine)
    sent = 0
    while ids := _claim(engine, now or utcnow()):
        conn = RelayConnection(settings)
        try:
            for message_id in ids:
                sent += _send_one(engine, settings, secret, conn, message_id)
        except (RelayError, ConnectionLost) as exc:
            log.warning("signup mail: the relay cannot be used now: %s", exc)
            _postpone(engine, ids, utcnow() + timedelta(seconds=settings.relay_backoff_seconds))
            return sent
        finally:
            conn.close()
    return sent


def _send_one(engine: Engine, settings: Settings, secret: bytes, conn: RelayConnection, message_id: int) -> int:
    with Session(engine, expire_on_commit=False) as session:
        row = session.get(TransactionalMessage, message_id)
        if row is None or row.state not in MessageState.DUE:
            return 0
        if not row.email:  # erased meanwhile
            row.state, row.next_attempt_at, row.last_reply = MessageState.FAILED, None, "the contact was erased"
            session.add(row)
            session.commit()
            return 0
        try:
            out = compose(session, settings, secret, row)
        except RenderFailed as exc:
            row.state, row.next_attempt_at, row.last_reply = MessageState.FAILED, None, str(exc)[:TEXT_LENGTH]
            session.add(row)
            session.commit()
            return 0
        row.message_id = out.message_id
        session.rollback()  # no transaction (on SQLite, no lock) while the relay answers
        try:
            reply = conn.send(out)
        except NotSendable as exc:
            reply = Reply(554, str(exc), "rcpt")
        now = utcnow()
        row = session.get(TransactionalMessage, message_id)
        if row is None:
            return 0
        row.message_id = out.message_id
        _record(session, settings, row, reply, now)
        session.commit()
        return 1 if reply.code // 100 == 2 else 0


def _postpone(engine: Engine, ids: list[int], until: datetime) -> None:
    with Session(engine) as session:
        session.execute(
            update(TransactionalMessage)
            .where(
                col(TransactionalMessage.id).in_(ids),
                or_(*(col(TransactionalMessage.state) == s for s in MessageState.DUE)),
            )
            .values(next_attempt_at=until)
        )
        session.commit()

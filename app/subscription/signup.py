"""Signing up to a list, through its hosted form (or the snippet that posts to it) or a CMS over the API, and
confirming by the mailed link.

The answer to a signup never says whether the address was known: a new address, one waiting for its
confirmation, one already subscribed, a suppressed or erased one and a bot that filled the honeypot all
get the same `Accepted`. Nor does the time it takes: the request (`request_signup`) only checks the values
(which does not depend on the address) and writes one `signup_request` row, the same for every address; the
background job carries the requests out (`take_requests`, then the mails), so the writes that differ
between a new and a known address happen after the answer, in another process. What the job does:
- new, double opt-in: the contact (with the form's values) and an `unconfirmed` membership, a `subscribe`
  row in the consent ledger, and a confirmation mail;
- new, single opt-in: a `subscribed` membership, the ledger row, and the welcome mail if the list has one;
- waiting for its confirmation: a new confirmation mail, unless one was queued in the last hour;
- subscribed already: nothing (no mail: a form must not be a way to mail someone repeatedly);
- suppressed (unsubscribed, bounced, complained, manual, erased): nothing;
- honeypot filled: nothing.
The form never changes a known contact's data: whoever types an address may not be its owner. A new contact
keeps the language the person signed up in (the browser's, or the CMS's `language`), so its mails speak it.

Every subscribe and confirm names its actor (the form with IP and user agent, or the API key) and the
consent text version agreed to. Unconfirmed memberships are purged after BULKMAIL_SIGNUP_UNCONFIRMED_DAYS
with the contact when it has nothing else; the ledger keeps the attempt."""

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, delete, exists, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from app.addresses import Address, InvalidAddress, normalise
from app.audience import fields as custom_fields
from app.audience.contacts import language_of
from app.audience.queries import is_suppressed
from app.audience.search import forget, index_contacts
from app.i18n import gettext as _
from app.i18n import supported
from app.models import (
    Bounce,
    ConsentEvent,
    ConsentText,
    Contact,
    Delivery,
    ListMember,
    MailingList,
    SignupRequest,
    Suppression,
    TransactionalMessage,
    utcnow,
)
from app.models.states import MemberStatus
from app.models.types import NAME_LENGTH
from app.secret_key import get_secret_key
from app.settings import Settings
from app.subscription import consent, forms, mail
from app.subscription.erasure import erased_among
from app.tokens import parse_token

log = logging.getLogger(__name__)

RESEND_AFTER = timedelta(hours=1)
TAKE_BATCH = 100
EXPIRE = "expire"  # the consent ledger's action for an unconfirmed signup that was purged
# the ledger's sources of a signup by the hosted form and of a confirm by the mailed link: stored in English, shown
# in the reader's language (app.i18n.labels)
SIGNUP_FORM = "signup form"
CONFIRMATION_LINK = "confirmation link"


class NoSuchForm(LookupError):
    """No list with this id, or (for the hosted form) its form is not public."""


class SignupRefused(ValueError):
    """A value the person must correct; `field` names it. Says nothing about the address being known."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class ConfirmInvalid(LookupError):
    """The confirmation link is unknown, expired or no longer needed; the message says which."""


@dataclass(frozen=True)
class Submission:
    email: str
    first_name: str = ""
    last_name: str = ""
    fields: Mapping[str, Any] = field(default_factory=dict)
    consent_version: int | None = None  # the consent text version the person was shown
    honeypot: str = ""
    language: str | None = None  # the signup's language (a supported one), for a new contact


@dataclass(frozen=True)
class Confirmed:
    list_name: str
    language: str | None = None  # the contact's, which the pages about its confirmation speak


def signup_form(session: Session, list_id: int, public_only: bool = True) -> tuple[MailingList, Any]:
    """The list and its settings. Raises NoSuchForm."""
    ml = session.get(MailingList, list_id)
    if ml is None:
        raise NoSuchForm(_("no list with id %(id)s", id=list_id))
    form = forms.settings_of(session, list_id)
    if public_only and not form.public:
        raise NoSuchForm(_("this list has no public signup form"))
    return ml, form


@dataclass(frozen=True)
class PublicForm:
    """What the hosted form shows."""

    mailing_list: MailingList
    fields: list[custom_fields.Definition]
    consent: ConsentText | None


def public_form(session: Session, list_id: int) -> PublicForm:
    """Raises NoSuchForm when the list is not there or its form not public."""
    ml, form = signup_form(session, list_id)
    defined = custom_fields.definitions(session)
    chosen = [defined[n] for n in form.fields if n in defined]
    return PublicForm(ml, chosen, forms.consent_text(session, list_id))


def _values(session: Session, chosen: list[str] | None, submission: Submission) -> dict[str, Any]:
    """The chosen custom fields' values (CHOSEN None: any defined field, and an unknown name is refused),
    checked and converted. Raises SignupRefused naming the field."""
    definitions = custom_fields.definitions(session)
    if chosen is None:
        unknown = sorted(set(submission.fields) - set(definitions))
        if unknown:
            raise SignupRefused(unknown[0], _("no custom field is named so"))
        chosen = list(definitions)
    out: dict[str, Any] = {}
    for name in chosen:
        definition = definitions.get(name)
        if definition is None:
            continue
        try:
            value = custom_fields.convert(definition, submission.fields.get(name))
        except custom_fields.FieldProblem as exc:
            raise SignupRefused(exc.field, exc.message) from exc
        if value is not None:
            out[name] = value
    return out


def _name(value: str, what: str) -> str | None:
    value = value.strip()
    if len(value) > NAME_LENGTH:
        raise SignupRefused(what, _("at most %(n)s characters", n=NAME_LENGTH))
    return value or None


def _person(submission: Submission) -> tuple[Address, str | None, str | None]:
    try:
        address = normalise(submission.email)
    except InvalidAddress as exc:
        raise SignupRefused("email", str(exc)) from exc
    return address, _name(submission.first_name, "first_name"), _name(submission.last_name, "last_name")


def request_signup(
    engine: Engine, list_id: int, submission: Submission, actor: consent.Actor, public_only: bool = True
) -> None:
    """Check a signup and queue it for the background job: one INSERT, whatever the address. Raises
    NoSuchForm, or SignupRefused for a value to correct (neither depends on the address being known)."""
    address, first, last = _person(submission)
    with Session(engine) as session:
        _, form = signup_form(session, list_id, public_only)
        chosen = list(form.fields) if public_only else None
        _values(session, chosen, submission)
        if submission.honeypot.strip():
            return
        fields = {k: v for k, v in submission.fields.items() if chosen is None or k in chosen}
        session.add(SignupRequest(list_id=list_id, email=address.email, first_name=first or "", last_name=last or "",
                                  fields=fields, consent_version=submission.consent_version, public_only=public_only,
                                  language=supported(submission.language),
                                  actor_kind=actor.kind, actor=actor.name, ip=actor.ip, user_agent=actor.user_agent,
                                  created_at=utcnow()))  # fmt: skip
        session.commit()


def take_requests(engine: Engine) -> int:
    """Carry out the queued signups, oldest first, each as `subscribe` at the time it was asked for; returns
    how many. A request is deleted once carried out; one carried out twice (a process stopped in between, or
    two at once) comes to the same, as a second signup of a waiting or subscribed address changes nothing."""
    done = 0
    while True:
        with Session(engine) as session:
            query = select(SignupRequest).order_by(col(SignupRequest.id)).limit(TAKE_BATCH)
            rows = session.execute(query).scalars().all()
        for row in rows:
            submission = Submission(row.email, row.first_name, row.last_name, row.fields, row.consent_version,
                                    language=row.language)  # fmt: skip
            actor = consent.Actor(row.actor_kind, row.actor, row.ip, row.user_agent)
            try:
                subscribe(engine, row.list_id, submission, actor, row.public_only, at=row.created_at)
            except (NoSuchForm, SignupRefused) as exc:  # the list or its fields changed since it was asked for
                log.info("signup request %s came to nothing: %s", row.id, exc)
            with Session(engine) as session:
                session.execute(delete(SignupRequest).where(col(SignupRequest.id) == row.id))
                session.commit()
        done += len(rows)
        if len(rows) < TAKE_BATCH:
            return done


def subscribe(
    engine: Engine,
    list_id: int,
    submission: Submission,
    actor: consent.Actor,
    public_only: bool = True,
    at: datetime | None = None,
) -> None:
    """Carry out a signup now (see the module's text), as of AT (default: now). Raises NoSuchForm, or
    SignupRefused for a value to correct; otherwise returns nothing, whatever became of it."""
    address, first, last = _person(submission)
    for attempt in range(2):
        with Session(engine, expire_on_commit=False) as session:
            ml, form = signup_form(session, list_id, public_only)
            # the hosted form takes the fields it shows; a CMS any custom field
            values = _values(session, list(form.fields) if public_only else None, submission)
            if submission.honeypot.strip():
                return
            try:
                _take(session, ml, form, address.email, address.key, address.is_role, first, last, values,
                      submission.consent_version, actor, at or utcnow(), supported(submission.language))  # fmt: skip
                session.commit()
                return
            except IntegrityError:  # the same address signed up at the same moment: look again
                session.rollback()
                if attempt:
                    return


def _take(
    session: Session,
    ml: MailingList,
    form: Any,
    email: str,
    key: str,
    is_role: bool,
    first: str | None,
    last: str | None,
    values: dict[str, Any],
    shown_version: int | None,
    actor: consent.Actor,
    now: datetime,
    language: str | None,
) -> None:
    assert ml.id is not None  # a stored list
    if is_suppressed(session, key) or erased_among(session, [key]):
        return
    contact = session.execute(select(Contact).where(col(Contact.email_key) == key)).scalars().first()
    member = session.get(ListMember, (ml.id, contact.id)) if contact is not None else None
    if member is not None and member.status == MemberStatus.SUBSCRIBED:
        return
    text = forms.consent_text(session, ml.id, shown_version) if shown_version is not None else None
    text = text or forms.consent_text(session, ml.id)
    status = MemberStatus.UNCONFIRMED if form.double_opt_in else MemberStatus.SUBSCRIBED
    if member is not None:  # waiting for its confirmation
        if not form.double_opt_in:
            member.status = MemberStatus.SUBSCRIBED
            session.add(member)
        elif _queued_recently(session, ml.id, member.contact_id, now):
            return
    else:
        if contact is None:
            contact = Contact(email=email, email_key=key, first_name=first, last_name=last, attributes=values,
                              language=language, is_role=is_role, created_at=now, updated_at=now)  # fmt: skip
            session.add(contact)
            session.flush()
            assert contact.id is not None
            index_contacts(session, [contact.id])
        assert contact.id is not None
        session.add(ListMember(list_id=ml.id, contact_id=contact.id, source="form" if actor.kind == consent.ActorKind.FORM else "api", status=status, added_at=now))  # fmt: skip
        session.flush()
    assert contact is not None and contact.id is not None
    entry = consent.Entry(
        contact.id,
        consent.Action.SUBSCRIBE,
        ml.id,
        source=SIGNUP_FORM if actor.kind == consent.ActorKind.FORM else "api",
        consent_text_version=forms.version_label(text),
        detail={"status": status},
    )
    consent.append_one(session, entry, actor, now)
    if status == MemberStatus.UNCONFIRMED:
        mail.queue(session, mail.CONFIRM, ml.id, contact, now)
    elif form.welcome_subject:
        mail.queue(session, mail.WELCOME, ml.id, contact, now)


def _queued_recently(session: Session, list_id: int, contact_id: int, now: datetime) -> bool:
    query = select(col(TransactionalMessage.id)).where(
        col(TransactionalMessage.list_id) == list_id,
        col(TransactionalMessage.contact_id) == contact_id,
        col(TransactionalMessage.kind) == mail.CONFIRM,
        col(TransactionalMessage.created_at) > now - RESEND_AFTER,
    )
    return session.execute(query.limit(1)).first() is not None


def _confirmation(session: Session, settings: Settings, engine: Engine, token: str) -> TransactionalMessage:
    parsed = parse_token(get_secret_key(settings, engine), token)
    row = session.get(TransactionalMessage, parsed.ident) if parsed is not None and parsed.kind == "k" else None
    if row is None or row.kind != mail.CONFIRM or row.list_id is None:
        raise ConfirmInvalid(_("This confirmation link is not known. Sign up again to get a new one."))
    return row


def _language(session: Session, contact_id: int) -> str | None:
    contact = session.get(Contact, contact_id)
    return language_of(contact) if contact is not None else None


def pending_confirmation(engine: Engine, settings: Settings, token: str) -> Confirmed:
    """What the link would confirm (for the page with the button). Raises ConfirmInvalid."""
    with Session(engine) as session:
        row = _confirmation(session, settings, engine, token)
        ml = session.get(MailingList, row.list_id)
        return Confirmed(ml.name if ml else "", _language(session, row.contact_id))


def confirm(engine: Engine, settings: Settings, token: str, actor: consent.Actor) -> Confirmed:
    """Follow a confirmation link: the membership becomes `subscribed`, the ledger gets a `confirm` row
    naming the consent text version signed up under, and the welcome mail is queued. Following it again
    confirms nothing new and says it is confirmed. Raises ConfirmInvalid."""
    now = utcnow()
    with Session(engine, expire_on_commit=False) as session:
        row = _confirmation(session, settings, engine, token)
        assert row.list_id is not None
        ml = session.get(MailingList, row.list_id)
        member = session.get(ListMember, (row.list_id, row.contact_id))
        if ml is None or member is None:
            raise ConfirmInvalid(_("This signup is not waiting for a confirmation any more. Sign up again."))
        language = _language(session, row.contact_id)
        if member.status == MemberStatus.SUBSCRIBED:
            return Confirmed(ml.name, language)
        if mail.confirm_expires(settings, row.created_at) <= now:
            raise ConfirmInvalid(_("This confirmation link has expired. Sign up again to get a new one."))
        detail = {"message_id": row.id}
        if not confirm_membership(session, row.contact_id, row.list_id, actor, now, CONFIRMATION_LINK, detail):
            return Confirmed(ml.name, language)  # a second click at the same moment
        session.commit()
        return Confirmed(ml.name, language)


def confirm_membership(
    session: Session,
    contact_id: int,
    list_id: int,
    actor: consent.Actor,
    now: datetime,
    source: str,
    detail: dict[str, Any],
) -> bool:
    """Make the contact's unconfirmed membership of the list `subscribed`: a `confirm` row in the ledger naming
    the consent text version signed up under, and the welcome mail queued if the list has one. False (nothing
    done) when the membership is not waiting for its confirmation (any more). The caller commits."""
    claimed = session.execute(
        update(ListMember)
        .where(
            col(ListMember.list_id) == list_id,
            col(ListMember.contact_id) == contact_id,
            col(ListMember.status) == MemberStatus.UNCONFIRMED,
        )
        .values(status=MemberStatus.SUBSCRIBED)
    )
    if not claimed.rowcount:  # type: ignore[attr-defined]  # confirmed (or cancelled) meanwhile
        return False
    signed_up = session.execute(
        select(col(ConsentEvent.consent_text_version))
        .where(
            col(ConsentEvent.contact_id) == contact_id,
            col(ConsentEvent.list_id) == list_id,
            col(ConsentEvent.action) == consent.Action.SUBSCRIBE,
        )
        .order_by(col(ConsentEvent.id).desc())
        .limit(1)
    ).scalar()
    entry = consent.Entry(
        contact_id, consent.Action.CONFIRM, list_id, source=source, consent_text_version=signed_up, detail=detail
    )
    consent.append_one(session, entry, actor, now)
    form = forms.settings_of(session, list_id)
    contact = session.get(Contact, contact_id)
    if form.welcome_subject and contact is not None:
        mail.queue(session, mail.WELCOME, list_id, contact, now)
    return True


def cancel_membership(
    session: Session, contact_id: int, list_id: int, actor: consent.Actor, now: datetime, source: str
) -> bool:
    """Remove the contact's unconfirmed membership of the list (a `cancel` row in the ledger), and the contact
    when that leaves it with nothing (as the purge does). False (nothing done) when the membership is not
    waiting for its confirmation (any more). The caller commits."""
    gone = session.execute(
        delete(ListMember).where(
            col(ListMember.list_id) == list_id,
            col(ListMember.contact_id) == contact_id,
            col(ListMember.status) == MemberStatus.UNCONFIRMED,
        )
    )
    if not gone.rowcount:  # type: ignore[attr-defined]
        return False
    consent.append_one(session, consent.Entry(contact_id, consent.Action.CANCEL, list_id, source=source), actor, now)
    _drop_left_with_nothing(session, [contact_id])
    return True


def purge_unconfirmed(engine: Engine, settings: Settings, now: datetime | None = None) -> int:
    """Remove the memberships still unconfirmed after BULKMAIL_SIGNUP_UNCONFIRMED_DAYS, and each contact
    left with nothing (no list, campaign delivery or suppression; the bounce rows of its confirmation mails
    stand on their own); an `expire` row per membership stays in the ledger. Returns how many went."""
    now = now or utcnow()
    cutoff = now - timedelta(days=settings.signup_unconfirmed_days)
    with Session(engine) as session:
        stale = (
            session.execute(
                select(col(ListMember.list_id), col(ListMember.contact_id)).where(
                    col(ListMember.status) == MemberStatus.UNCONFIRMED, col(ListMember.added_at) < cutoff
                )
            )
            .tuples()
            .all()
        )
        if not stale:
            return 0
        system = consent.Actor(consent.ActorKind.SYSTEM, "purge")
        why = _("not confirmed within %(days)s days", days=format(settings.signup_unconfirmed_days, "g"))
        purged = []
        for list_id, contact_id in stale:
            gone = session.execute(
                delete(ListMember).where(
                    col(ListMember.list_id) == list_id,
                    col(ListMember.contact_id) == contact_id,
                    col(ListMember.status) == MemberStatus.UNCONFIRMED,
                )
            )
            if gone.rowcount:  # type: ignore[attr-defined]  # another process's purge may have been first
                purged.append(contact_id)
                consent.append_one(session, consent.Entry(contact_id, EXPIRE, list_id, source=why), system, now)
        _drop_left_with_nothing(session, sorted(set(purged)))
        session.commit()
        return len(purged)


def _drop_left_with_nothing(session: Session, contact_ids: list[int]) -> None:
    """Delete each of these contacts that has no list, campaign delivery or suppression left (the bounce rows
    of its confirmation mails stand on their own)."""
    orphans = [c for c in contact_ids if _has_nothing_else(session, c)]
    if orphans:
        session.execute(
            update(Bounce).where(col(Bounce.transactional_id).in_(
                select(col(TransactionalMessage.id)).where(col(TransactionalMessage.contact_id).in_(orphans))
            )).values(transactional_id=None)
        )  # fmt: skip
        session.execute(delete(TransactionalMessage).where(col(TransactionalMessage.contact_id).in_(orphans)))
        forget(session, orphans)
        session.execute(delete(Contact).where(col(Contact.id).in_(orphans)))


def _has_nothing_else(session: Session, contact_id: int) -> bool:
    key = select(col(Contact.email_key)).where(col(Contact.id) == contact_id).scalar_subquery()
    something = select(
        exists().where(col(ListMember.contact_id) == contact_id)
        | exists().where(col(Delivery.contact_id) == contact_id)
        | exists().where(col(Suppression.email_key) == key)
    )
    return not session.execute(something).scalar()

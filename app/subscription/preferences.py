"""The preference centre: what a contact sees and may change through the signed link every message
carries. The lists they are on (leave one, or come back to one they left; confirm or cancel a signup still
waiting for its confirmation: the signed link proves the mailbox is theirs), the lists they may join,
unsubscribe from everything, and the fields the marketer lets them edit. Every change appends to the
consent ledger with the page as the actor, its IP and user agent.

The link is a dated token (app.tokens): it works for `preferences_valid_days` after the message was
made. A form on the page also carries a form token, an HMAC of the link's token and the time the page
was shown: a POST must come from a page this service rendered for the same link within FORM_VALID."""

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, literal, select
from sqlmodel import Session, col

from app.audience import contacts, suppressions
from app.audience.queries import is_suppressed, unsubscribed_lists
from app.i18n import gettext as _
from app.keyset import after_name_id, fetch
from app.models import Contact, CustomField, ListMember, MailingList, SignupForm, Suppression
from app.models.states import MemberStatus
from app.subscription import consent, forms, signup
from app.subscription.erasure import is_erased
from app.tokens import make_preferences_token, parse_preferences_token

SOURCE = "preference page"
FORM_VALID = timedelta(hours=4)
LISTS_PER_PAGE = 50
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class LinkInvalid(LookupError):
    """The link's token is malformed, forged, or names no contact (any more)."""


class LinkExpired(LookupError):
    """The link was genuine but is older than the settings allow."""


class FormRefused(PermissionError):
    """A POST without a form token of a page shown for this link (or one too old)."""


class NotAllowed(ValueError):
    """A change the page does not offer this contact (a list they are not on, a private list)."""


def day_of(now: datetime) -> int:
    return (now - _EPOCH).days


def token_for(secret: bytes, contact_id: int, now: datetime) -> str:
    """The token of a contact's preference link made now."""
    return make_preferences_token(secret, contact_id, day_of(now))


def open_link(session: Session, secret: bytes, token: str, now: datetime, valid_days: int) -> Contact:
    """The contact a preference link stands for; raises LinkInvalid or LinkExpired."""
    parsed = parse_preferences_token(secret, token)
    if parsed is None:
        raise LinkInvalid
    if day_of(now) - parsed.issued_day > valid_days:
        raise LinkExpired
    contact = session.get(Contact, parsed.contact_id)
    if contact is None or is_erased(contact):
        raise LinkInvalid
    return contact


def form_token(secret: bytes, token: str, now: datetime) -> str:
    stamp = str(int(now.timestamp()))
    return f"{stamp}.{_form_mac(secret, token, stamp)}"


def check_form_token(secret: bytes, token: str, sent: str | None, now: datetime) -> None:
    """Raises FormRefused unless SENT is a form token of this link, made within FORM_VALID."""
    stamp, _dot, mac = (sent or "").partition(".")
    if not stamp.isdigit() or not hmac.compare_digest(mac, _form_mac(secret, token, stamp)):
        raise FormRefused
    age = now.timestamp() - int(stamp)
    if not 0 <= age <= FORM_VALID.total_seconds():
        raise FormRefused


def _form_mac(secret: bytes, token: str, stamp: str) -> str:
    return hmac.new(secret, f"preferences-form:{token.lower()}:{stamp}".encode(), hashlib.sha256).hexdigest()[:32]


def lists_to_join(session: Session, contact_id: int) -> list[MailingList]:
    """The public lists (their signup form is open to anyone) the contact is not on, which they may join
    from the page: ordered by name, at most LISTS_PER_PAGE. The one place that decides it."""
    on_it = (
        select(literal(1))
        .where(col(ListMember.list_id) == MailingList.id, col(ListMember.contact_id) == contact_id)
        .exists()
    )
    query = (
        select(MailingList)
        .join(SignupForm, col(SignupForm.list_id) == MailingList.id)
        .where(col(SignupForm.public), ~on_it)
        .order_by(col(MailingList.name), col(MailingList.id))
        .limit(LISTS_PER_PAGE)
    )
    return list(session.execute(query).scalars().all())


@dataclass(frozen=True)
class ListChoice:
    id: int
    name: str
    description: str
    subscribed: bool  # False: they unsubscribed from this list
    pending: bool = False  # signed up, waiting for their confirmation (double opt-in)


@dataclass(frozen=True)
class EditableField:
    name: str
    label: str
    type: str
    choices: Sequence[str]
    required: bool
    value: Any


@dataclass(frozen=True)
class Preferences:
    contact: Contact
    everything: bool  # unsubscribed from every list
    lists: list[ListChoice]
    next_cursor: str | None
    joinable: list[MailingList]
    fields: list[EditableField]


def view(session: Session, contact: Contact, cursor: str | None = None) -> Preferences:
    """What the page shows: a page of the contact's lists (by name), the lists to join, the fields."""
    assert contact.id is not None
    query = after_name_id(
        select(MailingList)
        .join(ListMember, col(ListMember.list_id) == MailingList.id)
        .where(col(ListMember.contact_id) == contact.id),
        col(MailingList.name),
        col(MailingList.id),
        cursor,
    )
    rows, next_cursor = fetch(session, query, LISTS_PER_PAGE, key=lambda m: (m.name, m.id))
    left = unsubscribed_lists(session, contact.email_key)
    waiting = _waiting(session, contact.id, [m.id for m in rows])
    attrs = contact.attributes or {}
    return Preferences(
        contact=contact,
        everything=is_suppressed(session, contact.email_key),
        lists=[ListChoice(m.id, m.name, m.description, m.id not in left, m.id in waiting) for m in rows],
        next_cursor=next_cursor,
        joinable=lists_to_join(session, contact.id),
        fields=[
            EditableField(f.name, f.label, f.type, tuple(f.choices), f.required, attrs.get(f.name))
            for f in _editable(session)
        ],
    )


def _waiting(session: Session, contact_id: int, list_ids: list[int]) -> set[int]:
    """Which of these lists the contact signed up to and has not confirmed yet."""
    query = select(col(ListMember.list_id)).where(
        col(ListMember.contact_id) == contact_id,
        col(ListMember.list_id).in_(list_ids),
        col(ListMember.status) == MemberStatus.UNCONFIRMED,
    )
    return set(session.execute(query).scalars().all())


def _editable(session: Session) -> Sequence[CustomField]:
    query = select(CustomField).where(col(CustomField.subscriber_editable)).order_by(col(CustomField.name))
    return session.execute(query).scalars().all()


def _is_member(session: Session, contact_id: int, list_id: int) -> bool:
    query = select(col(ListMember.list_id)).where(
        col(ListMember.contact_id) == contact_id, col(ListMember.list_id) == list_id
    )
    return session.execute(query).first() is not None


def leave(session: Session, contact: Contact, list_id: int, actor: consent.Actor) -> str:
    """Unsubscribe the contact from one of their lists (the ledger records it, per list); returns the
    list's name. Commits."""
    assert contact.id is not None
    mailing_list = session.get(MailingList, list_id)
    if mailing_list is None or not _is_member(session, contact.id, list_id):
        raise NotAllowed(_("You are not on that list."))
    suppressions.unsubscribe(session, contact.email, contact.email_key, SOURCE, None, None, actor, [list_id])
    return mailing_list.name


def leave_all(session: Session, contact: Contact, actor: consent.Actor) -> None:
    """Unsubscribe the contact from every list, now and later. Commits."""
    suppressions.unsubscribe(session, contact.email, contact.email_key, SOURCE, None, None, actor)


def join(session: Session, contact: Contact, list_id: int, actor: consent.Actor, now: datetime) -> str:
    """Come back to a list the contact left, or join a list offered to them (lists_to_join); the ledger
    records a subscribe by the page. Returns the list's name; the caller commits."""
    assert contact.id is not None
    if is_suppressed(session, contact.email_key):
        raise NotAllowed(_("You are unsubscribed from everything."))
    mailing_list = session.get(MailingList, list_id)
    member = session.get(ListMember, (list_id, contact.id))
    offered = {m.id for m in lists_to_join(session, contact.id)}
    if mailing_list is None or not (member is not None or list_id in offered):
        raise NotAllowed(_("That list cannot be joined here."))
    if member is not None and member.status == MemberStatus.UNCONFIRMED:
        raise NotAllowed(_("That list waits for your confirmation: confirm it, or cancel it."))
    # subscribed at once, never unconfirmed: the signed link already proves the mailbox is theirs
    if member is None:
        session.add(
            ListMember(
                list_id=list_id,
                contact_id=contact.id,
                source="preferences",
                status=MemberStatus.SUBSCRIBED,
                added_at=now,
            )
        )
    elif member.status != MemberStatus.SUBSCRIBED:
        member.status = MemberStatus.SUBSCRIBED
        session.add(member)
    session.execute(
        delete(Suppression).where(col(Suppression.email_key) == contact.email_key, col(Suppression.list_id) == list_id)
    )
    entry = consent.Entry(
        contact.id,
        consent.Action.SUBSCRIBE,
        list_id,
        SOURCE,
        consent_text_version=forms.version_label(forms.consent_text(session, list_id)),
        detail={"status": MemberStatus.SUBSCRIBED},
    )
    consent.append_one(session, entry, actor, now)
    return mailing_list.name


def _waiting_list(session: Session, contact: Contact, list_id: int) -> MailingList:
    assert contact.id is not None
    mailing_list = session.get(MailingList, list_id)
    if mailing_list is None or not _waiting(session, contact.id, [list_id]):
        raise NotAllowed(_("That list is not waiting for your confirmation."))
    return mailing_list


def confirm(session: Session, contact: Contact, list_id: int, actor: consent.Actor, now: datetime) -> str:
    """Confirm the contact's signup to a list that waits for it, as the mailed link would: the membership is
    subscribed, the ledger records a `confirm` by the page, the welcome mail is queued. Returns the list's
    name; the caller commits."""
    mailing_list = _waiting_list(session, contact, list_id)
    assert contact.id is not None
    if not signup.confirm_membership(session, contact.id, list_id, actor, now, SOURCE, {}):
        raise NotAllowed(_("That list is not waiting for your confirmation."))
    return mailing_list.name


def cancel(session: Session, contact: Contact, list_id: int, actor: consent.Actor, now: datetime) -> str:
    """Withdraw the contact's signup to a list that waits for its confirmation: the membership goes, the
    ledger records a `cancel` by the page, and the contact too when nothing else is left of it (then the
    link works no more). Returns the list's name; the caller commits."""
    mailing_list = _waiting_list(session, contact, list_id)
    assert contact.id is not None
    if not signup.cancel_membership(session, contact.id, list_id, actor, now, SOURCE):
        raise NotAllowed(_("That list is not waiting for your confirmation."))
    return mailing_list.name


def still_held(session: Session, contact_id: int) -> bool:
    """Whether the contact is still stored (a cancelled signup that was all there was of it is not)."""
    return session.execute(select(col(Contact.id)).where(col(Contact.id) == contact_id)).first() is not None


def save_fields(
    session: Session, contact: Contact, form: Mapping[str, str], actor: consent.Actor, now: datetime
) -> list[str]:
    """Set the names and the editable fields from the page's form (a field the marketer does not allow is
    ignored, whatever is sent); raises contacts.ContactInvalid naming each bad field. Returns the
    changed fields; the caller commits."""
    editable = _editable(session)
    attributes: dict[str, Any] = {}
    for f in editable:
        if f.type == "boolean":  # an unticked box sends nothing
            attributes[f.name] = "yes" if form.get(f.name) else ("no" if f.required else None)
        else:
            attributes[f.name] = form.get(f.name, "")
    missing = [f.name for f in editable if f.required and not str(attributes.get(f.name) or "").strip()]
    if missing:
        raise contacts.ContactInvalid([(f"attributes.{name}", _("fill this in")) for name in missing])
    return contacts.update(
        session,
        contact,
        form.get("first_name", ""),
        form.get("last_name", ""),
        attributes,
        actor,
        now,
        names_given={"first_name", "last_name"},
    )

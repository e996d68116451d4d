"""One contact as a person: its data, lists, consent history, deliveries, bounces and suppressions;
changes to its data (checked against the custom fields, recorded in the consent ledger); its export."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from app.audience import fields as custom_fields
from app.audience.queries import every_list
from app.audience.schemas import (
    ConsentEventPublic,
    ContactBouncePublic,
    ContactDeliveryPublic,
    ContactExport,
    ContactPublic,
    MembershipPublic,
    SuppressionPublic,
    VerdictPublic,
)
from app.audience.search import ContactFilter, index_contacts, ordered, statuses
from app.audience.why import why
from app.i18n import LANGUAGES, supported
from app.i18n import gettext as _
from app.keyset import after_id, fetch
from app.models import (
    Bounce,
    Campaign,
    ConsentEvent,
    Contact,
    Delivery,
    ImportJob,
    ListMember,
    MailingList,
    Suppression,
)
from app.models.types import NAME_LENGTH
from app.settings import Settings
from app.subscription import consent
from app.subscription.erasure import is_erased


class ContactInvalid(ValueError):
    """Values that cannot be stored; `problems` is (field, message) for each."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{f}: {m}" for f, m in problems))
        self.problems = problems


class ContactErased(ValueError):
    def __init__(self) -> None:
        super().__init__("this contact was erased; nothing about the person is kept to change")


def status_of(session: Session, contact: Contact) -> str:
    if is_erased(contact):
        return "erased"
    reason = session.execute(
        select(col(Suppression.reason)).where(col(Suppression.email_key) == contact.email_key, every_list())
    ).scalar()
    return reason or "active"


def public(contact: Contact, status: str) -> ContactPublic:
    assert contact.id is not None  # a stored contact
    return ContactPublic(
        id=contact.id,
        email=contact.email,
        first_name=contact.first_name,
        last_name=contact.last_name,
        attributes=contact.attributes or {},
        external_id=contact.external_id,
        is_role=contact.is_role,
        language=contact.language,
        status=status,
        created_at=contact.created_at,
        updated_at=contact.updated_at,
    )


def language_of(contact: Contact) -> str | None:
    """The language the contact's subscriber pages speak: the one set on the contact (contact page, API), else
    a `language` attribute (a CSV column or an API attribute of that name, in any case), when it names a supported
    language (``de``, ``de-AT``, ``German`` does not)."""
    given = next((v for k, v in (contact.attributes or {}).items() if k.strip().lower() == "language"), None)
    return supported(contact.language) or supported(str(given or ""))


def update(
    session: Session,
    contact: Contact,
    first_name: str | None,
    last_name: str | None,
    attributes: dict[str, Any] | None,
    actor: consent.Actor,
    now: datetime,
    names_given: set[str] | None = None,
    language: str | None = None,
) -> list[str]:
    """Change the contact's names and attributes (laid over the stored ones; None or "" removes one),
    check them against the custom fields, re-index it and append an `edit` row naming the changed
    fields (not their values) to the ledger. Returns the changed fields; the caller commits.
    NAMES_GIVEN: which of first_name/last_name were sent (an explicit null clears a name). LANGUAGE: the
    subscriber pages' language (None: unchanged, "": unset)."""
    assert contact.id is not None
    if is_erased(contact):
        raise ContactErased
    given = names_given if names_given is not None else {n for n, v in (("first_name", first_name),
                                                                         ("last_name", last_name)) if v is not None}  # fmt: skip
    changed: list[str] = []
    for name, value in (("first_name", first_name), ("last_name", last_name)):
        if name in given:
            new = (value or "").strip()[:NAME_LENGTH] or None
            if new != getattr(contact, name):
                setattr(contact, name, new)
                changed.append(name)
    if language is not None:
        chosen = supported(language) if language else None
        if language and chosen != language.strip().lower():
            raise ContactInvalid(
                [("language", _("choose one of %(choices)s, or leave it empty", choices=", ".join(LANGUAGES)))]
            )
        if chosen != contact.language:
            contact.language = chosen
            changed.append("language")
    if attributes:
        cleaned, problems = custom_fields.clean(custom_fields.definitions(session), attributes)
        if problems:
            raise ContactInvalid([(f"attributes.{p.field}", p.message) for p in problems])
        cleaned = {k: (None if isinstance(v, str) and not v.strip() else v) for k, v in cleaned.items()}
        new_attrs = custom_fields.merged(contact.attributes or {}, cleaned)
        changed += sorted(k for k in set(new_attrs) | set(contact.attributes or {})
                          if new_attrs.get(k) != (contact.attributes or {}).get(k))  # fmt: skip
        contact.attributes = new_attrs
    if changed:
        contact.updated_at = now
        session.add(contact)
        session.flush()
        index_contacts(session, [contact.id])
        consent.append_one(
            session, consent.Entry(contact.id, consent.Action.EDIT, detail={"fields": sorted(changed)}), actor, now
        )
    return sorted(changed)


def memberships(session: Session, contact_id: int) -> list[MembershipPublic]:
    rows = session.execute(
        select(ListMember, col(MailingList.name), col(ImportJob.filename))
        .join(MailingList, col(MailingList.id) == ListMember.list_id)
        .outerjoin(ImportJob, col(ImportJob.id) == ListMember.import_id)
        .where(col(ListMember.contact_id) == contact_id)
        .order_by(col(MailingList.name))
    ).all()
    return [
        MembershipPublic(
            list_id=m.list_id, list_name=name, source=m.source, import_id=m.import_id, import_filename=filename,
            added_at=m.added_at, status=m.status,
        )
        for m, name, filename in rows
    ]  # fmt: skip


def consent_public(e: ConsentEvent) -> ConsentEventPublic:
    return ConsentEventPublic(**e.model_dump(include=set(ConsentEventPublic.model_fields)))


def deliveries_newest_first(contact: Contact, cursor: str | None) -> Any:
    """The contact's ledger rows (by its address: the indexed way in), newest first, with the campaign name."""
    query = (
        select(Delivery, col(Campaign.name))
        .join(Campaign, col(Campaign.id) == Delivery.campaign_id)
        .where(col(Delivery.email_key) == contact.email_key)
    )
    return after_id(query, col(Delivery.id), cursor, descending=True)


def delivery_public(d: Delivery, campaign_name: str | None) -> ContactDeliveryPublic:
    assert d.id is not None
    return ContactDeliveryPublic(
        id=d.id, campaign_id=d.campaign_id, campaign_name=campaign_name, state=d.state, attempts=d.attempts,
        sent_at=d.sent_at, last_reply_code=d.last_reply_code, last_reply=d.last_reply, bounced_at=d.bounced_at,
    )  # fmt: skip


def bounces_newest_first(contact: Contact, cursor: str | None) -> Any:
    return after_id(
        select(Bounce).where(col(Bounce.email_key) == contact.email_key), col(Bounce.id), cursor, descending=True
    )


def bounce_public(b: Bounce) -> ContactBouncePublic:
    return ContactBouncePublic(**b.model_dump(include=set(ContactBouncePublic.model_fields)))


def suppressions_of(session: Session, contact: Contact) -> Sequence[Suppression]:
    return session.execute(select(Suppression).where(col(Suppression.email_key) == contact.email_key)).scalars().all()


@dataclass
class ContactView:
    """What the contact page shows above its paged tables."""

    contact: ContactPublic
    lists: list[MembershipPublic]
    suppressions: Sequence[Suppression]
    fields: Sequence[Any]


def view(session: Session, contact: Contact) -> ContactView:
    assert contact.id is not None
    return ContactView(
        public(contact, status_of(session, contact)),
        memberships(session, contact.id),
        suppressions_of(session, contact),
        custom_fields.all_fields(session),
    )


def export(session: Session, contact: Contact, now: datetime) -> ContactExport:
    """Everything held about the person: the contact, its lists, its whole consent history, every
    delivery, bounce and suppression."""
    assert contact.id is not None
    deliveries = session.execute(deliveries_newest_first(contact, None)).all()
    bounces = session.execute(bounces_newest_first(contact, None)).scalars().all()
    return ContactExport(
        exported_at=now,
        contact=public(contact, status_of(session, contact)),
        lists=memberships(session, contact.id),
        consent=[consent_public(e) for e in consent.history(session, contact.id)],
        deliveries=[delivery_public(d, name) for d, name in deliveries],
        bounces=[bounce_public(b) for b in bounces],
        suppressions=[
            SuppressionPublic(**s.model_dump(include=set(SuppressionPublic.model_fields)))
            for s in suppressions_of(session, contact)
        ],
    )


def contacts_page(
    session: Session, f: ContactFilter, limit: int, cursor: str | None
) -> tuple[list[ContactPublic], str | None]:
    """A page of contacts matching the filter, newest first, each with its status."""
    rows, next_cursor = fetch(session, ordered(session, f)(cursor), limit)
    return with_status(session, rows), next_cursor


def with_status(session: Session, rows: Sequence[Contact]) -> list[ContactPublic]:
    reasons = statuses(session, [c.email_key for c in rows if not is_erased(c)])
    return [public(c, "erased" if is_erased(c) else reasons.get(c.email_key, "active")) for c in rows]


def recent_campaigns(session: Session, limit: int = 50) -> list[tuple[int, str]]:
    """The newest campaigns, for the "why in or out" chooser."""
    rows = session.execute(select(col(Campaign.id), col(Campaign.name)).order_by(col(Campaign.id).desc()).limit(limit))
    return [(i, n) for i, n in rows.tuples()]


def why_for_campaign(
    session: Session, contact: Contact, campaign_id: int, settings: Settings, now: datetime
) -> VerdictPublic | None:
    """Whether the contact is in the campaign's audience, and the rule that decides it (None: no such campaign)."""
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        return None
    if is_erased(contact):
        return VerdictPublic(address="", email_key=None, included=False, reason="erased",
                             detail="excluded: the person's data was erased", memberships=[])  # fmt: skip
    return why(session, contact.email, list(campaign.list_ids), settings, now)

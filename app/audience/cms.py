"""CMS push: website users upserted in bulk, keyed by the CMS's own user id (`col(Contact.external_id)`).

A user whose address changed keeps its contact row (and with it the list memberships and ledger
history); only the address moves. If the new address already belongs to a contact that no CMS user
owns (say it came from a CSV import), that contact is merged into the user's: its list memberships
move over and the now-empty row is removed. An address owned by a different CMS user is a conflict,
reported for that row only."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlmodel import Session, col

from app.addresses import Address, InvalidAddress, normalise
from app.audience import fields as custom_fields
from app.audience.search import index_contacts
from app.audience.store import add_members, confirm_pending
from app.models import Contact, Delivery, ListMember
from app.subscription import consent
from app.subscription.erasure import erased_among


@dataclass
class CmsUser:
    external_id: str
    email: str
    first_name: str | None = None
    last_name: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass
class RowResult:
    index: int
    external_id: str
    status: str  # added | updated | unchanged | invalid | conflict | erased
    contact_id: int | None = None
    field: str | None = None
    error: str | None = None


def _merge_into(session: Session, keep: Contact, gone: Contact) -> None:
    assert keep.id is not None  # a stored contact
    for member in session.execute(select(ListMember).where(col(ListMember.contact_id) == gone.id)).scalars():
        if session.get(ListMember, (member.list_id, keep.id)) is None:
            session.add(
                ListMember(
                    list_id=member.list_id,
                    contact_id=keep.id,
                    source=member.source,
                    status=member.status,  # a signup waiting for its confirmation still waits
                    import_id=member.import_id,
                    added_at=member.added_at,
                )
            )
        session.delete(member)
    # the ledger keeps its rows (the address they went to is on each), without the removed contact
    session.execute(update(Delivery).where(col(Delivery.contact_id) == gone.id).values(contact_id=None))
    session.delete(gone)
    session.flush()


def _apply(contact: Contact, user: CmsUser, email: str, key: str, is_role: bool, now: datetime) -> bool:
    """Copy the user's data onto the contact; True when anything changed."""
    new = {
        "email": email,
        "email_key": key,
        "is_role": is_role,
        "first_name": user.first_name if user.first_name is not None else contact.first_name,
        "last_name": user.last_name if user.last_name is not None else contact.last_name,
        "attributes": {**(contact.attributes or {}), **user.attributes},
        "external_id": user.external_id,
    }
    changed = any(getattr(contact, k) != v for k, v in new.items())
    if changed:
        for k, v in new.items():
            setattr(contact, k, v)
        contact.updated_at = now
    return changed


def upsert_users(
    session: Session, users: list[CmsUser], list_id: int | None, now: datetime, actor: consent.Actor | None = None
) -> list[RowResult]:
    """One result per user, in order; each contact added or changed gets a `cms` row in the consent
    ledger, and a membership of the list still waiting for a signup's confirmation is confirmed (a
    `confirm` row naming the API key). An erased person's address is refused (`erased`). The caller commits."""
    results, valid = _screen(users)
    valid = _checked(session, valid, results)
    ext_ids = [u.external_id for _, u, _ in valid]
    keys = [a.key for _, _, a in valid]
    by_ext = {
        c.external_id: c
        for c in session.execute(select(Contact).where(col(Contact.external_id).in_(ext_ids))).scalars()
    }
    by_key = {
        c.email_key: c for c in session.execute(select(Contact).where(col(Contact.email_key).in_(keys))).scalars()
    }
    new_rows = _update_known(session, valid, results, by_ext, by_key, now)
    _insert_new(session, new_rows)
    ids = [r.contact_id for r in results if r.contact_id is not None]
    joined: set[int] = set()
    if list_id is not None:
        members = select(col(ListMember.contact_id)).where(
            col(ListMember.list_id) == list_id, col(ListMember.contact_id).in_(ids)
        )
        joined = set(ids) - set(session.execute(members).scalars())
        add_members(session, list_id, ids, "cms", now)
    touched = [r.contact_id for r in results if r.contact_id is not None and r.status in ("added", "updated")]
    index_contacts(session, touched)
    actor = actor or consent.Actor(consent.ActorKind.API_KEY)
    # a row for every contact the push changed or put in the list
    entries = [consent.Entry(c, consent.Action.CMS, list_id, "CMS push") for c in ids if c in joined or c in touched]
    consent.append(session, entries, actor, now)
    if list_id is not None:  # the organisation vouches for their consent: a waiting signup is confirmed
        confirm_pending(
            session, list_id, ids, consent.Entry(0, consent.Action.CONFIRM, list_id, "CMS push"), actor, now
        )
    return results


def _checked(
    session: Session, valid: list[tuple[int, CmsUser, Address]], results: list[RowResult]
) -> list[tuple[int, CmsUser, Address]]:
    """The users whose custom field values are good (converted in place) and whose address was not
    erased; the others get their result."""
    definitions = custom_fields.definitions(session)
    erased = erased_among(session, [a.key for _, _, a in valid])
    out = []
    for i, user, address in valid:
        if address.key in erased:
            results[i].status, results[i].field = "erased", f"contacts[{i}].email"
            results[i].error = "this address was erased at its owner's request and cannot be added again"
            continue
        cleaned, problems = custom_fields.clean(definitions, user.attributes)
        if problems:
            results[i].status, results[i].field = "invalid", f"contacts[{i}].attributes.{problems[0].field}"
            results[i].error = problems[0].message
            continue
        user.attributes = {k: v for k, v in cleaned.items() if v is not None}
        out.append((i, user, address))
    return out


def _screen(users: list[CmsUser]) -> tuple[list[RowResult], list[tuple[int, CmsUser, Address]]]:
    """A result per user, `invalid` or `conflict` for a bad address or one given twice in the batch
    (the first one stands), `pending` for the rest, which are returned with their normal address."""
    results: list[RowResult] = []
    valid: list[tuple[int, CmsUser, Address]] = []
    first_seen_ext: dict[str, int] = {}
    first_seen_key: dict[str, int] = {}
    for i, user in enumerate(users):
        try:
            address = normalise(user.email)
        except InvalidAddress as exc:
            results.append(RowResult(i, user.external_id, "invalid", field=f"contacts[{i}].email", error=str(exc)))
            continue
        if user.external_id in first_seen_ext:
            j = first_seen_ext[user.external_id]
            error = f"also given at contacts[{j}]"
            results.append(RowResult(i, user.external_id, "conflict", field=f"contacts[{i}].external_id", error=error))
            continue
        if address.key in first_seen_key:
            j = first_seen_key[address.key]
            error = f"{address.email} is also given at contacts[{j}]"
            results.append(RowResult(i, user.external_id, "conflict", field=f"contacts[{i}].email", error=error))
            continue
        first_seen_ext[user.external_id] = first_seen_key[address.key] = i
        results.append(RowResult(i, user.external_id, "pending"))
        valid.append((i, user, address))
    return results, valid


def _update_known(
    session: Session,
    valid: list[tuple[int, CmsUser, Address]],
    results: list[RowResult],
    by_ext: dict[str | None, Contact],
    by_key: dict[str, Contact],
    now: datetime,
) -> list[tuple[RowResult, dict[str, Any]]]:
    """Update, take over or merge the contacts the batch's users already have; returns the rows to insert
    for the users that have none (one INSERT, not an ORM object and flush per row)."""
    kept: list[tuple[RowResult, Contact]] = []
    new_rows: list[tuple[RowResult, dict[str, Any]]] = []
    for i, user, address in valid:
        result = results[i]
        contact = by_ext.get(user.external_id)
        holder = by_key.get(address.key)
        if holder is not None and holder is not contact and holder.external_id not in (None, user.external_id):
            result.status, result.field = "conflict", f"contacts[{i}].email"
            result.error = f"{address.email} belongs to CMS user {holder.external_id}"
            continue
        if contact is None and holder is not None:
            contact, holder = holder, None  # an imported contact becomes this CMS user's
        if contact is not None and holder is not None and holder is not contact:
            _merge_into(session, contact, holder)
            by_key.pop(address.key, None)
        if contact is None:
            row = {
                "email": address.email,
                "email_key": address.key,
                "is_role": address.is_role,
                "first_name": user.first_name,
                "last_name": user.last_name,
                "attributes": dict(user.attributes),
                "external_id": user.external_id,
                "created_at": now,
                "updated_at": now,
            }
            new_rows.append((result, row))
            result.status = "added"
            continue
        old_key = contact.email_key
        changed = _apply(contact, user, address.email, address.key, address.is_role, now)
        session.flush()
        by_key.pop(old_key, None)
        result.status = "updated" if changed else "unchanged"
        by_key[address.key] = by_ext[user.external_id] = contact
        kept.append((result, contact))
    session.flush()
    for result, contact in kept:
        result.contact_id = contact.id
    return new_rows


def _insert_new(session: Session, new_rows: list[tuple[RowResult, dict[str, Any]]]) -> None:
    """The new contacts in one INSERT, then their ids read back by address."""
    if not new_rows:
        return
    session.execute(insert(Contact), [row for _, row in new_rows])
    new_keys = [row["email_key"] for _, row in new_rows]
    ids = dict(
        session.execute(
            select(col(Contact.email_key), col(Contact.id)).where(col(Contact.email_key).in_(new_keys))
        ).all()
    )
    for result, row in new_rows:
        result.contact_id = ids[row["email_key"]]

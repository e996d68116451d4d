"""Answer "why is this address in or out of this send", with the same rules as the compile step."""

from datetime import datetime

from sqlalchemy import select
from sqlmodel import Session, col

from app.addresses import InvalidAddress, normalise
from app.audience.queries import every_list
from app.audience.reasons import UNSUBSCRIBED_LIST, reason_label
from app.audience.schemas import MembershipPublic, VerdictPublic
from app.bounces.policy import BouncePolicy, counting_bounce_ids
from app.i18n import gettext as _
from app.models import Bounce, Contact, ImportJob, ListMember, MailingList, Suppression
from app.models.states import MemberStatus, SuppressionReason
from app.settings import Settings


def _memberships(session: Session, contact_id: int, list_ids: list[int]) -> list[MembershipPublic]:
    rows = session.execute(
        select(ListMember, col(MailingList.name), col(ImportJob.filename))
        .join(MailingList, col(MailingList.id) == ListMember.list_id)
        .outerjoin(ImportJob, col(ImportJob.id) == ListMember.import_id)
        .where(col(ListMember.contact_id) == contact_id, col(ListMember.list_id).in_(list_ids))
        .order_by(col(ListMember.list_id))
    ).all()
    return [
        MembershipPublic(
            list_id=m.list_id,
            list_name=name,
            source=m.source,
            import_id=m.import_id,
            import_filename=filename,
            added_at=m.added_at,
            status=m.status,
        )
        for m, name, filename in rows
    ]


def _suppression_detail(s: Suppression, list_name: str | None = None) -> str:
    what = reason_label(s.reason) if list_name is None else _("unsubscribed from %(list)s", list=list_name)
    detail = f"excluded: {what} on {s.created_at:%Y-%m-%d %H:%M} UTC"
    if s.source:
        detail += f" by {s.source}"
    if s.campaign_id is not None:
        detail += f" (campaign {s.campaign_id})"
    if s.note:
        detail += f": {s.note}"
    return detail


def _bounce_detail(session: Session, ids: list[int], policy: BouncePolicy) -> str:
    bounces = (
        session.execute(select(Bounce).where(col(Bounce.id).in_(ids)).order_by(col(Bounce.created_at))).scalars().all()
    )
    hard = bounces[0].hard
    latest = bounces[-1]
    what = (
        f"{len(bounces)} hard bounce{'s' if len(bounces) != 1 else ''} since the last clean send "
        f"(threshold {policy.hard_threshold})"
        if hard
        else f"{len(bounces)} soft bounces in the last {policy.window_days} days (threshold {policy.soft_threshold})"
    )
    last = f"latest {latest.created_at:%Y-%m-%d}"
    if latest.campaign_id is not None:
        last += f" on campaign {latest.campaign_id}"
    if latest.status or latest.diagnostic:
        last += f": {' '.join(x for x in (latest.status, latest.diagnostic[:200]) if x)}"
    return f"excluded: bounced, {what}; {last}"


def _verdict(
    address: str,
    key: str | None,
    included: bool,
    reason: str,
    detail: str,
    memberships: list[MembershipPublic] | None = None,
) -> VerdictPublic:
    return VerdictPublic(
        address=address, email_key=key, included=included, reason=reason, detail=detail, memberships=memberships or []
    )


def contact_of(session: Session, address: str) -> Contact | VerdictPublic:
    """The contact of the address, or the verdict that says why there is none."""
    try:
        key = normalise(address).key
    except InvalidAddress as exc:
        return _verdict(address, None, False, "invalid", str(exc))
    contact = session.execute(select(Contact).where(col(Contact.email_key) == key)).scalars().first()
    return contact or _verdict(address, key, False, "not_a_contact", f"{key} is not a contact")


def why(session: Session, address: str, list_ids: list[int], settings: Settings, now: datetime) -> VerdictPublic:
    """Whether the address is in a send to those lists, the rule that decides it, and the memberships it
    comes through."""
    contact = contact_of(session, address)
    if isinstance(contact, VerdictPublic):
        return contact
    key = contact.email_key
    assert contact.id is not None  # a stored row
    memberships = _memberships(session, contact.id, list_ids)
    if not memberships:
        return _verdict(address, key, False, "not_in_lists", f"{contact.email} is not in any of the chosen lists")
    if all(m.status == MemberStatus.UNCONFIRMED for m in memberships):
        waiting = "; ".join(m.describe() for m in memberships)
        detail = f"excluded: unconfirmed, a signup waiting for its confirmation link to be followed ({waiting})"
        return _verdict(address, key, False, MemberStatus.UNCONFIRMED, detail, memberships)
    suppression = (
        session.execute(select(Suppression).where(col(Suppression.email_key) == key, every_list())).scalars().first()
    )
    if suppression is not None:
        return _verdict(address, key, False, suppression.reason, _suppression_detail(suppression), memberships)
    left = {
        s.list_id: s
        for s in session.execute(
            select(Suppression).where(
                col(Suppression.email_key) == key, col(Suppression.list_id).in_([m.list_id for m in memberships])
            )
        ).scalars()
    }
    # an unconfirmed membership is not mailed, so only the subscribed ones can keep the contact in
    subscribed = [m for m in memberships if m.status == MemberStatus.SUBSCRIBED]
    staying = [m for m in subscribed if m.list_id not in left]
    if not staying:
        details = "; ".join(_suppression_detail(left[m.list_id], m.list_name) for m in subscribed)
        return _verdict(address, key, False, UNSUBSCRIBED_LIST, details, memberships)
    policy = BouncePolicy.from_settings(settings)
    ids = counting_bounce_ids(session, policy, key, now)
    if ids:
        return _verdict(
            address, key, False, SuppressionReason.BOUNCED, _bounce_detail(session, ids, policy), memberships
        )
    detail = "included: in " + "; ".join(m.describe() for m in staying)
    if len(staying) > 1:
        detail += f" (counted once; {len(staying) - 1} duplicate membership{'s' if len(staying) > 2 else ''})"
    if left:
        detail += "; " + _(
            "unsubscribed from %(lists)s", lists=", ".join(m.list_name for m in memberships if m.list_id in left)
        )
    return _verdict(address, key, True, "included", detail, memberships)

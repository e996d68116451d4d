"""Why one address is in or out of a send that names segments: the segment (or list) it comes
through, the suppression or exclusion that takes it out, and for a segment it is not in, the
conditions that decide it with the contact's own values ("country = 'DE' is false, it is 'AT'").

Each condition is evaluated by the same SQL the audience is compiled with, for this one contact, so
the explanation cannot disagree with the count."""

from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from app.audience import fields as custom_fields
from app.audience.queries import every_list
from app.audience.reasons import EXCLUDED_LIST, EXCLUDED_SEGMENT
from app.audience.schemas import VerdictPublic
from app.audience.segments.audience import Audience
from app.audience.segments.parse import parse
from app.audience.segments.sql import Context, compile_node, event_rows
from app.audience.segments.store import named
from app.audience.segments.tree import ENGAGEMENT, Condition, Event, Group, Node, Not, condition_text, quote
from app.audience.why import _bounce_detail, _memberships, _suppression_detail, _verdict, contact_of, why
from app.bounces.policy import BouncePolicy, counting_bounce_ids
from app.models import Bounce, Contact, Delivery, ListMember, MailingList, Segment, Suppression, TrackingHit
from app.settings import Settings


class _Explainer:
    def __init__(self, session: Session, contact: Contact, now: datetime) -> None:
        self.session = session
        self.contact = contact
        custom = custom_fields.definitions(session)
        self.custom = custom
        self.ctx = Context.of(session, {d.name: d.type for d in custom.values()}, now)

    def holds(self, node: Node) -> bool:
        where = compile_node(node, self.ctx)
        return bool(self.session.execute(select(where).where(col(Contact.id) == self.contact.id)).scalar_one())

    def segment(self, segment: Segment) -> tuple[bool, list[str]]:
        self.ctx.source = segment.expression
        return self.node(parse(segment.expression, self.custom))

    def node(self, node: Node) -> tuple[bool, list[str]]:
        """Whether the node holds of the contact, and the conditions that decide it."""
        if isinstance(node, Not):
            result, why = self.node(node.item)
            return not result, why
        if isinstance(node, Group):
            results = [self.node(i) for i in node.items]
            deciding = node.op == "or"  # the value that settles an or / an and
            settled = [why for r, why in results if r == deciding]
            if settled:
                return deciding, settled[0]
            return not deciding, [w for _, why in results for w in why]
        result = self.holds(node)
        return result, [f"{condition_text(node)} is {'true' if result else 'false'}, {self.evidence(node)}"]

    def evidence(self, node: Condition | Event) -> str:
        if isinstance(node, Event):
            return self.event(node)
        c = self.contact
        if node.field == "list":
            return self.lists()
        if node.field == "source":
            sources = self.session.execute(
                select(col(ListMember.source)).where(col(ListMember.contact_id) == c.id).distinct()
            ).scalars()
            shown = ", ".join(sorted(quote(s) for s in sources))
            return f"its sources are {shown}" if shown else "it came through no list"
        if node.field == "consent":
            states = [
                s for s in ("subscribed", "unconfirmed", "unsubscribed") if self.holds(Condition("consent", "=", (s,)))
            ]
            return "it is " + (" and ".join(states) if states else "on no list")
        value: Any
        if node.field == "created":
            value = f"{c.created_at:%Y-%m-%d %H:%M} UTC"
            return f"it is {value}"
        builtin = {"address": c.email, "domain": c.email.rpartition("@")[2], "first_name": c.first_name}
        builtin |= {"last_name": c.last_name, "language": c.language}
        value = builtin[node.field] if node.field in builtin else c.attributes.get(node.field)
        if value is None or value == "":
            return "it is empty"
        return f"it is {quote(value)}"

    def lists(self) -> str:
        rows = self.session.execute(
            select(col(MailingList.name), col(ListMember.status))
            .join(ListMember, col(ListMember.list_id) == MailingList.id)
            .where(col(ListMember.contact_id) == self.contact.id)
            .order_by(col(MailingList.name))
        ).all()
        if not rows:
            return "it is on no list"
        return "it is on " + ", ".join(quote(n) + ("" if s == "subscribed" else f" ({s})") for n, s in rows)

    def event(self, node: Event) -> str:
        engaged = node.event in ENGAGEMENT
        # an open or click outside the time asked about still tells when the last one was
        rows = event_rows(replace(node, days=None) if engaged else node, self.ctx)
        row = self.session.execute(
            select(rows.model)
            .select_from(rows.source)
            .where(rows.key == self.contact.email_key, *rows.where)
            .order_by(rows.at.desc())
            .limit(1)
        ).scalar_one_or_none()
        if engaged:
            return self.hit(node, row)
        if row is None:
            return "no such event"
        return describe_event(row)

    def hit(self, node: Event, row: TrackingHit | None) -> str:
        """The last open or click that counts: `last human open 2026-10-01 on campaign 4`, or with machines
        `last open 2026-10-02 on campaign 4 (a machine's: apple)`."""
        what = "open" if node.event == "opened" else "click"
        if row is None:
            return f"no {what} by a person recorded" if not node.machines else f"no {what} recorded"
        by = "human " if row.machine is False else ""
        text = f"last {by}{what} {row.at:%Y-%m-%d} on campaign {row.campaign_id}"
        if row.machine:
            text += f" (a machine's: {row.reason})"
        elif row.machine is None:
            text += " (not yet judged person or machine)"
        return text


def describe_event(row: Any) -> str:
    """One row of a contact's history as the explanation names it: "bounced hard 2026-11-02 on campaign 7"."""
    if isinstance(row, Delivery):
        what, at = "received", row.sent_at
    elif isinstance(row, Suppression):
        what, at = "unsubscribed", row.created_at
    else:
        assert isinstance(row, Bounce)
        what = f"bounced {'hard' if row.hard else 'soft'}" if row.kind == "bounce" else "complained"
        at = row.created_at
    text = f"{what} {at:%Y-%m-%d}"
    if row.campaign_id is not None:
        text += f" on campaign {row.campaign_id}"
    if isinstance(row, Bounce) and row.kind == "bounce":
        text += f" ({row.reason})"
    return text


def why_in(session: Session, address: str, audience: Audience, settings: Settings, now: datetime) -> VerdictPublic:
    """Whether the address is in a send to this audience and the rule that decides it."""
    if audience.lists_only:
        return why(session, address, audience.list_ids, settings, now)
    contact = contact_of(session, address)
    if isinstance(contact, VerdictPublic):
        return contact
    key = contact.email_key
    assert contact.id is not None
    memberships = _memberships(session, contact.id, audience.list_ids)
    explainer = _Explainer(session, contact, now)
    came: str | None = None
    missed: list[str] = []
    for segment in named(session, audience.segment_ids):
        result, reasons = explainer.segment(segment)
        if result:
            came = f"in segment '{segment.name}': " + "; ".join(reasons)
            break
        missed.append(f"not in segment '{segment.name}': " + "; ".join(reasons))
    if came is None:
        by_lists = why(session, address, audience.list_ids, settings, now) if audience.list_ids else None
        if by_lists is None or by_lists.reason == "not_in_lists":
            detail = "; ".join(([by_lists.detail] if by_lists else []) + missed)
            return _verdict(address, key, False, "not_in_segments", detail, memberships)
        if not by_lists.included:
            return by_lists
        came = by_lists.detail.removeprefix("included: ")
    else:
        suppression = (
            session.execute(select(Suppression).where(col(Suppression.email_key) == key, every_list()))
            .scalars()
            .first()
        )
        if suppression is not None:
            return _verdict(address, key, False, suppression.reason, _suppression_detail(suppression), memberships)
        policy = BouncePolicy.from_settings(settings)
        ids = counting_bounce_ids(session, policy, key, now)
        if ids:
            return _verdict(address, key, False, "bounced", _bounce_detail(session, ids, policy), memberships)
    if audience.exclude_list_ids:
        on = (
            session.execute(
                select(col(MailingList.name))
                .join(ListMember, col(ListMember.list_id) == MailingList.id)
                .where(col(ListMember.contact_id) == contact.id, col(ListMember.list_id).in_(audience.exclude_list_ids))
                .order_by(col(MailingList.name))
            )
            .scalars()
            .first()
        )
        if on is not None:
            return _verdict(address, key, False, EXCLUDED_LIST, f"excluded: on the excluded list '{on}'", memberships)
    for segment in named(session, audience.exclude_segment_ids):
        result, reasons = explainer.segment(segment)
        if result:
            detail = f"excluded: in the excluded segment '{segment.name}': " + "; ".join(reasons)
            return _verdict(address, key, False, EXCLUDED_SEGMENT, detail, memberships)
    return _verdict(address, key, True, "included", "included: " + came, memberships)

"""The dry run: for one contact, which steps of an automation they would get and when, from where they are
(or from the start, if the trigger would take them now), with branches judged on what is known today."""

from datetime import datetime

from sqlalchemy import select
from sqlmodel import Session, col

from app.addresses import InvalidAddress, normalise
from app.automations import conditions, steps
from app.automations.schemas import DryRun, PlannedStep
from app.automations.store import steps_of
from app.models import (
    Automation,
    AutomationPosition,
    AutomationStep,
    Campaign,
    Contact,
    Delivery,
    ListMember,
    MailingList,
    MessageTemplate,
    Suppression,
)
from app.models.states import MemberStatus
from app.sending.refused import Refused


def _contact(session: Session, email: str) -> Contact:
    try:
        key = normalise(email).key
    except InvalidAddress as exc:
        raise Refused("email", str(exc)) from None
    contact = session.execute(select(Contact).where(col(Contact.email_key) == key)).scalar()
    if contact is None:
        raise Refused("email", "no contact has this address")
    return contact


def _blocked(session: Session, automation: Automation, contact: Contact) -> str | None:
    """Why the contact would leave (or never enter) now; None: nothing stops them."""
    scope = [None] if automation.list_id is None else [None, automation.list_id]
    reason = session.execute(
        select(col(Suppression.reason)).where(
            col(Suppression.email_key) == contact.email_key,
            col(Suppression.list_id).is_(None) | col(Suppression.list_id).in_([s for s in scope if s is not None]),
        )
    ).scalar()
    if reason is not None:
        return f"suppressed: {reason}"
    if automation.trigger in ("list_joined", "optin_confirmed") and automation.list_id is not None:
        member = session.get(ListMember, (automation.list_id, contact.id))
        if member is None or member.status != MemberStatus.SUBSCRIBED:
            return "not subscribed to the list"
    return None


def _meets(
    session: Session, automation: Automation, ordered: list[AutomationStep], index: int, contact_id: int, now: datetime
) -> bool:
    who = conditions.branch_condition(session, automation, ordered, index, now).subquery()
    return session.execute(select(who.c[0]).where(who.c[0] == contact_id).limit(1)).first() is not None


def dry_run(session: Session, automation: Automation, email: str, now: datetime) -> DryRun:
    """Raises Refused (naming `email`) for an address no contact has."""
    contact = _contact(session, email)
    assert contact.id is not None
    ordered = steps_of(session, automation.id or 0)
    position = session.execute(
        select(AutomationPosition).where(
            col(AutomationPosition.automation_id) == automation.id, col(AutomationPosition.contact_id) == contact.id
        )
    ).scalar()
    blocked = _blocked(session, automation, contact)
    plan: list[PlannedStep] = []
    if position is not None and position.state != "active":
        note = f"went through the automation ({position.state}" + (
            f": {position.exit_reason})" if position.exit_reason else ")"
        )
        return DryRun(email=contact.email, enters=True, note=note, steps=[])
    if blocked is not None:
        return DryRun(email=contact.email, enters=False, note=f"would leave the automation ({blocked})", steps=[])
    done: set[int] = set()
    if position is not None:
        start = next((i for i, s in enumerate(ordered) if s.id == position.step_id), len(ordered))
        at = max(position.due_at or now, now)
        done = {int(entry.split("@")[0]) for entry in position.history.split(";") if entry}
        note = f"in the automation since {position.entered_at:%Y-%m-%d %H:%M} UTC"
    else:
        start, at = 0, steps.due_after(ordered[0].kind, ordered[0].options, now) if ordered else now
        note = "not in the automation: the plan from the start, were the trigger to take them now"
        if automation.state != "active":
            note += f" (the automation is {automation.state})"
    for step in ordered[:start]:
        passed = "done already" if step.id in done else "waited" if step.kind == steps.WAIT else "skipped by a branch"
        plan.append(PlannedStep(step_id=step.id or 0, kind=step.kind, at=None, outcome=passed))
    i = start
    while i < len(ordered):
        step = ordered[i]
        outcome, jump = _outcome(session, automation, ordered, i, contact, now)
        plan.append(PlannedStep(step_id=step.id or 0, kind=step.kind, at=at, outcome=outcome))
        if jump is False:
            break
        if jump is not None:
            i = next(j for j, s in enumerate(ordered) if s.id == jump)
        else:
            i += 1
        if i < len(ordered):
            at = steps.due_after(ordered[i].kind, ordered[i].options, at)
    return DryRun(email=contact.email, enters=True, note=note, steps=plan)


def _outcome(
    session: Session,
    automation: Automation,
    ordered: list[AutomationStep],
    index: int,
    contact: Contact,
    now: datetime,
) -> tuple[str, int | bool | None]:
    """What the step would do, and where they go after it: None the next step, a step id, or False (leave)."""
    step = ordered[index]
    options = step.options
    if step.kind == steps.SEND:
        source = (
            session.get(Campaign, options["message_of"])
            if options.get("message_of") is not None
            else session.get(MessageTemplate, options["template_id"])
        )
        subject = options.get("subject") or (source.subject if source else "")
        sent = session.execute(
            select(col(Delivery.state)).where(
                col(Delivery.campaign_id) == step.campaign_id, col(Delivery.email_key) == contact.email_key
            )
        ).scalar()
        if sent is not None:
            return f"not sent again: its message is in the ledger ({sent})", None
        return f"sends “{subject}”", None
    if step.kind == steps.WAIT:
        return "waits until the time shown on the next step", None
    if step.kind == steps.BRANCH:
        if _meets(session, automation, ordered, index, contact.id or 0, now):
            return f"{options['on']}: yes, goes on", None
        target = steps.jump_target(ordered, step)
        if target is None:
            return f"{options['on']}: no, leaves the automation", False
        return f"{options['on']}: no, goes to step {target.position}", target.id
    if step.kind in (steps.LIST_ADD, steps.LIST_REMOVE):
        target_list = session.get(MailingList, options["list_id"])
        verb = "added to" if step.kind == steps.LIST_ADD else "removed from"
        return f"{verb} the list {target_list.name if target_list else options['list_id']}", None
    return f"webhook endpoint {options['endpoint_id']} gets an automation.step event", None

"""Automations and their steps: create, change, order, remove, switch on and off. Each send step owns a
campaign (see app.models.automations) that is `sending` from the moment the step exists: its ledger rows
are written by the sweep (app.automations.advance) as contacts reach the step, and the sending worker
sends them like any campaign's."""

from typing import Any

from sqlalchemy import delete, func, select, update
from sqlmodel import Session, col

from app.addresses import InvalidAddress, normalise
from app.automations import steps
from app.automations.schemas import AutomationCreate, AutomationPublic, AutomationUpdate, StepPublic
from app.keyset import after_name_id, fetch
from app.models import (
    Automation,
    AutomationPosition,
    AutomationStep,
    Campaign,
    CampaignLink,
    MailingList,
    MessageTemplate,
    Segment,
    utcnow,
)
from app.models.states import CampaignState
from app.sending import bodies
from app.sending.refused import Refused
from app.sending.render import render_limits
from app.settings import Settings
from app.tracking import links as tracked_links
from app.tracking import modes

TRIGGERS = ("list_joined", "optin_confirmed", "segment_entered", "date_reached", "event", "campaign_sent")
STATES = ("draft", "active", "paused")


def ordered(cursor: str | None) -> Any:
    """Automations by name, from the cursor on."""
    return after_name_id(select(Automation), col(Automation.name), col(Automation.id), cursor)


def automations_page(session: Session, limit: int, cursor: str | None) -> tuple[list[Automation], str | None]:
    return fetch(session, ordered(cursor), limit, key=lambda r: (r.name, r.id))


def steps_of(session: Session, automation_id: int) -> list[AutomationStep]:
    """An automation's steps in their order."""
    return list(
        session.execute(
            select(AutomationStep)
            .where(col(AutomationStep.automation_id) == automation_id)
            .order_by(col(AutomationStep.position), col(AutomationStep.id))
        ).scalars()
    )


def _check_trigger(session: Session, values: dict[str, Any]) -> None:
    trigger = values.get("trigger")
    if trigger not in TRIGGERS:
        raise Refused("trigger", f"choose one of {', '.join(TRIGGERS)}")
    needs: dict[str, tuple[str, Any, str]] = {
        "list_joined": ("list_id", MailingList, "list"),
        "optin_confirmed": ("list_id", MailingList, "list"),
        "segment_entered": ("segment_id", Segment, "segment"),
        "campaign_sent": ("campaign_id", Campaign, "campaign"),
    }
    if trigger in needs:
        name, model, noun = needs[trigger]
        steps.row_id(session, values.get(name), model, noun, name)
    if trigger == "date_reached" and not steps.field_exists(session, str(values.get("field") or "")):
        raise Refused("field", f"no such custom field: {str(values.get('field'))[:64]}")
    if trigger == "event" and not str(values.get("event") or "").strip():
        raise Refused("event", "name the event the CMS posts")
    try:
        values["from_address"] = normalise(str(values.get("from_address") or "")).email
    except InvalidAddress as exc:
        raise Refused("from_address", str(exc)) from None


def _name_free(session: Session, name: str, other_than: int | None) -> None:
    if not name.strip():
        raise Refused("name", "fill this in")
    taken = session.execute(select(col(Automation.id)).where(col(Automation.name) == name)).scalar()
    if taken is not None and taken != other_than:
        raise Refused("name", "another automation has this name", status=409)


def create(session: Session, body: AutomationCreate) -> Automation:
    """A new automation (a draft: nothing starts until it is activated). The caller commits."""
    values = body.model_dump()
    _name_free(session, body.name, None)
    _check_trigger(session, values)
    automation = Automation(**values)
    session.add(automation)
    session.flush()
    return automation


def change(session: Session, automation: Automation, body: AutomationUpdate, settings: Settings) -> Automation:
    """Change the name, sender or trigger; its send steps' messages follow the sender. The caller commits."""
    given = body.model_dump(exclude_unset=True)
    state = given.pop("state", None)
    values = {**automation.model_dump(), **given}
    if "name" in given:
        _name_free(session, values["name"], automation.id)
    _check_trigger(session, values)
    for key in given:
        setattr(automation, key, values[key])
    automation.updated_at = utcnow()
    session.add(automation)
    for step in steps_of(session, automation.id or 0):
        if step.kind == steps.SEND:
            _write_message(session, automation, step, settings)
    if state is not None:
        switch(session, automation, state)
    return automation


def switch(session: Session, automation: Automation, state: str) -> Automation:
    """Activate (contacts who meet the trigger from now on enter), pause (nobody enters or moves on) or go
    back to a draft. The caller commits."""
    if state not in STATES:
        raise Refused("state", f"choose one of {', '.join(STATES)}")
    if state == "active" and not steps_of(session, automation.id or 0):
        raise Refused("state", "add a step first", status=409)
    now = utcnow()
    if state == "active" and automation.activated_at is None:
        automation.activated_at = now
    automation.state, automation.updated_at = state, now
    session.add(automation)
    return automation


def _release(session: Session, campaign_ids: list[int]) -> None:
    """Campaigns of removed send steps become ordinary: they complete once their queued rows are sent."""
    if campaign_ids:
        session.execute(
            update(Campaign)
            .where(col(Campaign.id).in_(campaign_ids))
            .values(automation_id=None, updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )


def remove(session: Session, automation: Automation) -> None:
    """Delete the automation and every contact's position in it; messages already queued still go."""
    _release(session, [s.campaign_id for s in steps_of(session, automation.id or 0) if s.campaign_id])
    session.delete(automation)


def _write_message(session: Session, automation: Automation, step: AutomationStep, settings: Settings) -> None:
    """The send step's campaign as the step and the automation say: made for a new step, else rewritten
    (its links numbered again; a worker builds its message anew after the change). Its message is a library
    template's, or another campaign's (with that campaign's layout, identity and lists)."""
    source: MessageTemplate | Campaign | None
    if step.options.get("message_of") is not None:
        source = session.get(Campaign, step.options["message_of"])
    else:
        source = session.get(MessageTemplate, step.options["template_id"])
    assert source is not None  # checked by steps.checked
    campaign = session.get(Campaign, step.campaign_id) if step.campaign_id else None
    now = utcnow()
    if campaign is None:
        campaign = Campaign(
            name="", from_address=automation.from_address, subject="", state=CampaignState.SENDING, launched_at=now
        )
    campaign.name = f"{automation.name}: {source.name}"[:200]
    campaign.automation_id = automation.id
    campaign.from_name, campaign.from_address = automation.from_name, automation.from_address
    campaign.list_ids = [automation.list_id] if automation.list_id else []
    if isinstance(source, Campaign):
        campaign.list_ids = campaign.list_ids or list(source.list_ids)
        campaign.layout_id, campaign.identity_id = source.layout_id, source.identity_id
        campaign.tracking = source.tracking
    campaign.subject = step.options.get("subject") or source.subject
    campaign.html_template, campaign.text_template = source.html_template, source.text_template
    campaign.template_language, campaign.updated_at = source.template_language, now
    session.add(campaign)
    session.flush()
    session.execute(delete(CampaignLink).where(col(CampaignLink.campaign_id) == campaign.id))
    sent = bodies.of_campaign(session, campaign, render_limits(settings))
    tracked_links.freeze(session, campaign, settings, sent.html, sent.text)
    step.campaign_id = campaign.id
    session.add(step)


def campaign_to_resend(session: Session, campaign_id: int) -> Campaign:
    campaign = session.get(Campaign, steps.row_id(session, campaign_id, Campaign, "campaign", "campaign_id"))
    if campaign is None or campaign.automation_id is not None:
        raise Refused("campaign_id", f"no campaign with id {campaign_id}")
    return campaign


def resend_to_non_openers(
    session: Session, campaign: Campaign, days: int, subject: str, settings: Settings
) -> Automation:
    """An active automation on a sent campaign: N days after the campaign reached a contact, its message again
    with a new subject, to those who did not open it (per-contact tracking knows who did). The caller commits."""
    if modes.effective(campaign, settings) != modes.CONTACT:
        raise Refused("campaign_id", "the campaign does not track opens per contact; nobody can be told apart")
    if not subject.strip():
        raise Refused("subject", "give the new subject")
    name = f"{campaign.name}: resend to non-openers"[:200]
    body = AutomationCreate(
        name=name,
        trigger="campaign_sent",
        campaign_id=campaign.id,
        from_name=campaign.from_name,
        from_address=campaign.from_address,
    )
    automation = create(session, body)
    add_step(session, automation, steps.WAIT, {"days": days}, settings)
    add_step(session, automation, steps.BRANCH, {"on": "not_opened", "else": steps.EXIT}, settings)
    add_step(session, automation, steps.SEND, {"message_of": campaign.id, "subject": subject}, settings)
    return switch(session, automation, "active")


def _check_jumps(ordered: list[AutomationStep]) -> None:
    """A branch may only jump forward (so nobody goes through a step twice)."""
    at = {s.id: i for i, s in enumerate(ordered)}
    for i, s in enumerate(ordered):
        target = s.options.get("else") if s.kind == steps.BRANCH else None
        if target not in (None, steps.EXIT) and (target not in at or at[target] <= i):
            raise Refused("options.else", "a branch jumps to a later step of the same automation, or exits")


def add_step(
    session: Session, automation: Automation, kind: str, options: dict[str, Any], settings: Settings
) -> AutomationStep:
    """Append a step. The caller commits."""
    options = steps.checked(session, kind, options)
    ordered = steps_of(session, automation.id or 0)
    last = max((s.position for s in ordered), default=0)
    step = AutomationStep(automation_id=automation.id or 0, position=last + 1, kind=kind, options=options)
    session.add(step)
    session.flush()
    _check_jumps([*ordered, step])
    if kind == steps.SEND:
        _write_message(session, automation, step, settings)
    return step


def change_step(
    session: Session, automation: Automation, step: AutomationStep, options: dict[str, Any], settings: Settings
) -> AutomationStep:
    """New options for a step (its kind stays). The caller commits."""
    step.options = steps.checked(session, step.kind, options)
    _check_jumps(steps_of(session, automation.id or 0))
    session.add(step)
    if step.kind == steps.SEND:
        _write_message(session, automation, step, settings)
    return step


def edit_step(
    session: Session,
    automation: Automation,
    step: AutomationStep,
    options: dict[str, Any] | None,
    move: str | None,
    settings: Settings,
) -> None:
    """Change a step's options and/or move it one place up or down. The caller commits."""
    if options is not None:
        change_step(session, automation, step, options, settings)
    if move is not None:
        move_step(session, automation, step, -1 if move == "up" else 1)


def move_step(session: Session, automation: Automation, step: AutomationStep, offset: int) -> None:
    """Move a step up (-1) or down (+1) by one place. The caller commits."""
    ordered = steps_of(session, automation.id or 0)
    i = next(i for i, s in enumerate(ordered) if s.id == step.id)
    j = i + offset
    if not 0 <= j < len(ordered):
        raise Refused("offset", "the step is already at that end")
    ordered[i], ordered[j] = ordered[j], ordered[i]
    _check_jumps(ordered)
    for n, s in enumerate(ordered, start=1):
        s.position = n
        session.add(s)


def remove_step(session: Session, automation: Automation, step: AutomationStep) -> None:
    """Remove a step: contacts waiting at it go on to the next one at once. The caller commits."""
    ordered = steps_of(session, automation.id or 0)
    rest = [s for s in ordered if s.id != step.id]
    if any(s.kind == steps.BRANCH and s.options.get("else") == step.id for s in rest):
        raise Refused("step_id", "a branch jumps to this step; change that branch first", status=409)
    now = utcnow()
    moved = update(AutomationPosition).where(
        col(AutomationPosition.step_id) == step.id, col(AutomationPosition.state) == "active"
    )
    session.execute(moved.values(**steps.arrival(rest, ordered.index(step), now), updated_at=now))
    if step.campaign_id:
        _release(session, [step.campaign_id])
    session.delete(step)


def shown(session: Session, automation: Automation) -> AutomationPublic:
    """The automation with its steps in order and how many contacts are at each, done and exited."""
    counts = positions(session, automation.id or 0)
    ordered = [
        StepPublic.model_validate(s, from_attributes=True).model_copy(
            update={"contacts_here": counts.get(str(s.id), 0)}
        )
        for s in steps_of(session, automation.id or 0)
    ]
    return AutomationPublic.model_validate(automation, from_attributes=True).model_copy(
        update={"steps": ordered, "done": counts.get("done", 0), "exited": counts.get("exited", 0)}
    )


def step_of(session: Session, automation: Automation, step_id: int) -> AutomationStep:
    step = session.get(AutomationStep, step_id)
    if step is None or step.automation_id != automation.id:
        raise Refused("step_id", f"no step with id {step_id} in this automation", status=404)
    return step


def positions(session: Session, automation_id: int) -> dict[str, int]:
    """How many contacts are at each step (by step id) and how many are done or exited."""
    counts: dict[str, int] = {}
    for step_id, state, n in session.execute(
        select(col(AutomationPosition.step_id), col(AutomationPosition.state), func.count())
        .where(col(AutomationPosition.automation_id) == automation_id)
        .group_by(col(AutomationPosition.step_id), col(AutomationPosition.state))
    ).all():
        key = str(step_id) if state == "active" else state
        counts[key] = counts.get(key, 0) + int(n)
    return counts

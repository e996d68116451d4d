"""/api/v1 routes for automations: CRUD, their steps (add, change, move, remove), the dry run for a contact,
and the events a CMS posts to start automations."""

from fastapi import APIRouter, Response

from app.api.errors import refusals
from app.api.pagination import CursorQuery, LimitQuery, Page
from app.api.resources import Resource, deleted
from app.automations import advance, dryrun, schemas, store
from app.deps import Id, SessionDep, SettingsDep
from app.models import Automation, utcnow

router = APIRouter(prefix="/automations", tags=["automations"])

AUTOMATIONS = Resource(Automation, schemas.AutomationPublic, "automation_id", "automation")


@router.get("", response_model=Page[schemas.AutomationPublic])
def list_automations(
    session: SessionDep, limit: LimitQuery = 100, cursor: CursorQuery = None
) -> Page[schemas.AutomationPublic]:
    """Automations by name, each with its steps."""
    items, next_cursor = store.automations_page(session, limit, cursor)
    return Page(items=[store.shown(session, a) for a in items], next_cursor=next_cursor)


@router.post(
    "",
    response_model=schemas.AutomationPublic,
    status_code=201,
    description="A new automation, a draft: add steps, then PATCH its state to active. Contacts who meet the "
    "trigger from then on enter it, once each.",
)
def create_automation(body: schemas.AutomationCreate, session: SessionDep) -> schemas.AutomationPublic:
    with refusals():
        automation = store.create(session, body)
    session.commit()
    return store.shown(session, automation)


@router.post(
    "/events",
    response_model=schemas.EventResult,
    description="The contact with this address enters every active automation whose trigger is this event.",
)
def post_event(body: schemas.EventRequest, session: SessionDep) -> schemas.EventResult:
    with refusals():
        entered = advance.enter_on_event(session, body.event, body.email, utcnow())
    session.commit()
    return schemas.EventResult(entered=entered)


@router.post(
    "/resend",
    response_model=schemas.AutomationPublic,
    status_code=201,
    description="Resend a campaign to those who did not open it: an active automation that waits DAYS after the "
    "campaign reached each contact and sends its message with the new subject to those who did not open it.",
)
def resend(body: schemas.ResendRequest, session: SessionDep, settings: SettingsDep) -> schemas.AutomationPublic:
    with refusals():
        campaign = store.campaign_to_resend(session, body.campaign_id)
        automation = store.resend_to_non_openers(session, campaign, body.days, body.subject, settings)
    session.commit()
    return store.shown(session, automation)


@router.get("/{automation_id}", response_model=schemas.AutomationPublic)
def get_automation(automation_id: Id, session: SessionDep) -> schemas.AutomationPublic:
    return store.shown(session, AUTOMATIONS.get(session, automation_id))


@router.patch("/{automation_id}", response_model=schemas.AutomationPublic)
def update_automation(
    automation_id: Id, body: schemas.AutomationUpdate, session: SessionDep, settings: SettingsDep
) -> schemas.AutomationPublic:
    automation = AUTOMATIONS.get(session, automation_id)
    with refusals():
        store.change(session, automation, body, settings)
    session.commit()
    return store.shown(session, automation)


@router.delete("/{automation_id}", status_code=204)
def delete_automation(automation_id: Id, session: SessionDep) -> Response:
    """Contacts' positions go with it; messages already queued still go out."""
    return deleted(session, store.remove, AUTOMATIONS.get(session, automation_id))


@router.post("/{automation_id}/steps", response_model=schemas.AutomationPublic, status_code=201)
def add_step(
    automation_id: Id, body: schemas.StepCreate, session: SessionDep, settings: SettingsDep
) -> schemas.AutomationPublic:
    """Append a step."""
    automation = AUTOMATIONS.get(session, automation_id)
    with refusals():
        store.add_step(session, automation, body.kind, body.options, settings)
    session.commit()
    return store.shown(session, automation)


@router.patch("/{automation_id}/steps/{step_id}", response_model=schemas.AutomationPublic)
def change_step(
    automation_id: Id, step_id: Id, body: schemas.StepUpdate, session: SessionDep, settings: SettingsDep
) -> schemas.AutomationPublic:
    """New options for a step, or a move one place up or down."""
    automation = AUTOMATIONS.get(session, automation_id)
    with refusals("step_id"):
        step = store.step_of(session, automation, step_id)
    with refusals():
        store.edit_step(session, automation, step, body.options, body.move, settings)
    session.commit()
    return store.shown(session, automation)


@router.delete("/{automation_id}/steps/{step_id}", response_model=schemas.AutomationPublic)
def remove_step(automation_id: Id, step_id: Id, session: SessionDep) -> schemas.AutomationPublic:
    """Contacts waiting at the step go on to the next one."""
    automation = AUTOMATIONS.get(session, automation_id)
    with refusals("step_id"):
        store.remove_step(session, automation, store.step_of(session, automation, step_id))
    session.commit()
    return store.shown(session, automation)


@router.post(
    "/{automation_id}/dry-run",
    response_model=schemas.DryRun,
    description="For one contact: the steps they would get and when, from where they are (or from the start), "
    "branches judged on what is known now. Changes nothing.",
)
def dry_run(automation_id: Id, body: schemas.DryRunRequest, session: SessionDep) -> schemas.DryRun:
    automation = AUTOMATIONS.get(session, automation_id)
    with refusals():
        return dryrun.dry_run(session, automation, body.email, utcnow())

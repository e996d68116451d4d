"""The automations' pages: automations by name, a new one, each one's page (its trigger and sender, its steps as
a list with their counts, a step added, changed, moved up or down, removed; switched on or off) and the dry run
for a contact."""

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import ValidationError

from app.automations import dryrun, schemas, store
from app.deps import SessionDep, SettingsDep
from app.i18n import gettext as _
from app.i18n.labels import label
from app.models import Automation, AutomationStep, utcnow
from app.sending.refused import Refused
from app.web.deps import EDITING
from app.web.forms import FRESH, FormState, problems_of, refused
from app.web.paging import PagedList
from app.web.responses import done, found, removed
from app.web.templating import confirm, render, render_form

router = APIRouter()

AUTOMATIONS = PagedList(50, key=lambda a: (a.name, a.id))
LIST = "/automations"
FIELDS = ("name", "trigger", "list_id", "segment_id", "field", "event", "campaign_id", "from_name", "from_address")
NUMBERS = ("template_id", "days", "hour", "weekday", "segment_id", "list_id", "endpoint_id")
OPTIONS = tuple(f"o_{k}" for k in (*NUMBERS, "subject", "zone", "on", "field", "value", "else"))


async def _typed(request: Request, names: tuple[str, ...]) -> dict[str, Any]:
    form = await request.form()
    return {k: v.strip() for k in names if isinstance(v := form.get(k), str) and v.strip()}


def _options(typed: dict[str, Any]) -> dict[str, Any]:
    """A step's options as typed on the form (its fields named o_OPTION, apart from the automation's own
    fields on the same page): whole numbers where a number is asked for, `else` a step id or exit."""
    out: dict[str, Any] = {}
    for name, value in typed.items():
        key = name.removeprefix("o_")
        if key == "kind":
            continue
        if key in NUMBERS or (key == "else" and value.isdigit()):
            out[key] = int(value) if value.lstrip("-").isdigit() else value
        else:
            out[key] = value
    return out


@router.get("/automations", response_class=HTMLResponse)
def automations_page(request: Request, session: SessionDep) -> HTMLResponse:
    rows, pager = AUTOMATIONS.fetch(session, request, store.ordered)
    return render(request, "automations.html", {"automations": rows, "pager": pager})


@router.get("/automations/new", response_class=HTMLResponse, dependencies=EDITING)
def new_automation(request: Request) -> HTMLResponse:
    return render_form(request, "automation_new.html", {}, FormState(values={"trigger": "optin_confirmed"}))


@router.post("/automations/new", response_class=HTMLResponse)
async def create_automation(request: Request, session: SessionDep) -> Response:
    typed = await _typed(request, FIELDS)
    try:
        made = store.create(session, schemas.AutomationCreate(**typed))
    except (ValidationError, Refused) as exc:
        session.rollback()
        return render_form(request, "automation_new.html", {}, refused(problems_of(exc), typed))
    session.commit()
    return done(request, f"{LIST}/{made.id}", _("Automation %(name)s saved: add its steps.", name=made.name))


def _page(
    request: Request, session: SessionDep, automation: Automation, form: FormState, step_form: FormState = FRESH
) -> HTMLResponse:
    context = {"a": automation, "shown": store.shown(session, automation), "step_form": step_form}
    page = render_form(request, "automation.html", context, form)
    page.status_code = max(form.status_code, step_form.status_code)  # either form refused: 400
    return page


@router.get("/automations/{automation_id}", response_class=HTMLResponse)
def automation_page(automation_id: int, request: Request, session: SessionDep) -> HTMLResponse:
    automation = _automation(session, automation_id)
    return _page(request, session, automation, FormState(values=automation.model_dump()))


@router.post("/automations/{automation_id}", response_class=HTMLResponse)
async def update_automation(
    automation_id: int, request: Request, session: SessionDep, settings: SettingsDep
) -> Response:
    automation = _automation(session, automation_id)
    typed = await _typed(request, FIELDS)
    try:
        store.change(session, automation, schemas.AutomationUpdate(**typed), settings)
    except (ValidationError, Refused) as exc:
        session.rollback()
        return _page(request, session, _automation(session, automation_id), refused(problems_of(exc), typed))
    session.commit()
    return done(request, f"{LIST}/{automation_id}", _("Automation %(name)s saved.", name=automation.name))


@router.post("/automations/{automation_id}/state")
async def switch_automation(automation_id: int, request: Request, session: SessionDep) -> Response:
    automation = _automation(session, automation_id)
    state = (await _typed(request, ("state",))).get("state", "")
    try:
        store.switch(session, automation, state)
    except Refused as exc:
        session.rollback()
        return done(request, f"{LIST}/{automation_id}", _("Not changed: %(problem)s", problem=exc))
    session.commit()
    return done(request, f"{LIST}/{automation_id}", _("The automation is now %(state)s.", state=label(state)))


@router.post("/automations/{automation_id}/steps", response_class=HTMLResponse)
async def add_step(automation_id: int, request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    automation = _automation(session, automation_id)
    typed = await _typed(request, ("o_kind", *OPTIONS))
    try:
        store.add_step(session, automation, typed.get("o_kind", ""), _options(typed), settings)
    except Refused as exc:
        session.rollback()
        automation = _automation(session, automation_id)
        return _page(request, session, automation, FormState(values=automation.model_dump()), _step_refused(exc, typed))
    session.commit()
    return done(request, f"{LIST}/{automation_id}", _("Step added."))


def _step_refused(exc: Refused, typed: dict[str, Any]) -> FormState:
    field = "o_kind" if exc.field == "kind" else exc.field.replace("options.", "o_")
    return refused({field: str(exc)}, typed)


@router.get("/automations/{automation_id}/steps/{step_id}", response_class=HTMLResponse)
def step_page(automation_id: int, step_id: int, request: Request, session: SessionDep) -> HTMLResponse:
    automation = _automation(session, automation_id)
    step = _step(session, automation, step_id)
    values = {f"o_{k}": v for k, v in step.options.items() if v is not None}
    return render_form(request, "automation_step.html", {"a": automation, "step": step}, FormState(values=values))


@router.post("/automations/{automation_id}/steps/{step_id}", response_class=HTMLResponse)
async def change_step(
    automation_id: int, step_id: int, request: Request, session: SessionDep, settings: SettingsDep
) -> Response:
    automation = _automation(session, automation_id)
    step = _step(session, automation, step_id)
    typed = await _typed(request, OPTIONS)
    try:
        store.change_step(session, automation, step, _options(typed), settings)
    except Refused as exc:
        session.rollback()
        step = _step(session, _automation(session, automation_id), step_id)
        context = {"a": automation, "step": step}
        return render_form(request, "automation_step.html", context, _step_refused(exc, typed))
    session.commit()
    return done(request, f"{LIST}/{automation_id}", _("Step saved."))


@router.post("/automations/{automation_id}/steps/{step_id}/move")
async def move_step(automation_id: int, step_id: int, request: Request, session: SessionDep) -> Response:
    automation = _automation(session, automation_id)
    step = _step(session, automation, step_id)
    direction = (await _typed(request, ("direction",))).get("direction")
    try:
        store.move_step(session, automation, step, -1 if direction == "up" else 1)
    except Refused as exc:
        session.rollback()
        return done(request, f"{LIST}/{automation_id}", _("Not moved: %(problem)s", problem=exc))
    session.commit()
    return done(request, f"{LIST}/{automation_id}", _("Step moved."))


@router.post("/automations/{automation_id}/steps/{step_id}/delete")
def remove_step(automation_id: int, step_id: int, request: Request, session: SessionDep) -> Response:
    automation = _automation(session, automation_id)
    step = _step(session, automation, step_id)
    try:
        store.remove_step(session, automation, step)
    except Refused as exc:
        session.rollback()
        return done(request, f"{LIST}/{automation_id}", _("Not removed: %(problem)s", problem=exc))
    session.commit()
    return done(request, f"{LIST}/{automation_id}", _("Step removed; contacts waiting at it go on to the next one."))


@router.get("/automations/{automation_id}/dry-run", response_class=HTMLResponse)
def dry_run_page(automation_id: int, request: Request, session: SessionDep, email: str = "") -> HTMLResponse:
    automation = _automation(session, automation_id)
    plan, errors = None, {}
    if email.strip():
        try:
            plan = dryrun.dry_run(session, automation, email.strip(), utcnow())
        except Refused as exc:
            errors = {"email": str(exc)}
    context = {"a": automation, "plan": plan, "steps_by_id": {s.id: s for s in store.steps_of(session, automation_id)}}
    return render_form(request, "automation_dry_run.html", context, FormState(errors, {"email": email}))


@router.get("/automations/{automation_id}/delete", response_class=HTMLResponse, dependencies=EDITING)
def delete_confirm(automation_id: int, request: Request, session: SessionDep) -> HTMLResponse:
    automation = _automation(session, automation_id)
    action = f"{LIST}/{automation_id}/delete"
    text = _("Every contact's place in it goes too; messages already queued still go out.")
    title = _("Remove %(name)s?", name=automation.name)
    return confirm(request, title, text, _("Remove"), action, f"{LIST}/{automation_id}")


@router.post("/automations/{automation_id}/delete")
def delete_automation(automation_id: int, request: Request, session: SessionDep) -> Response:
    automation = _automation(session, automation_id)
    notice = _("Automation %(name)s removed.", name=automation.name)
    return removed(request, session, store.remove, automation, LIST, notice)


def _automation(session: SessionDep, automation_id: int) -> Automation:
    return found(session, Automation, automation_id, "automation")


def _step(session: SessionDep, automation: Automation, step_id: int) -> AutomationStep:
    step = found(session, AutomationStep, step_id, "step")
    if step.automation_id != automation.id:
        found(session, AutomationStep, -1, "step")  # a step of another automation: not found here
    return step

"""The template library's pages: saved templates and layouts by name, a new one, each one's page (its form,
for those who may change it), and removal after a confirmation. A template starts a new campaign
(/campaigns/new?template_id=ID); a layout is chosen on the compose page."""

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse
from pydantic import ValidationError

from app.deps import SessionDep, SettingsDep
from app.i18n import gettext as _
from app.models import MessageTemplate
from app.sending import library
from app.sending.library_schemas import TemplateCreate, TemplateUpdate
from app.sending.refused import Refused
from app.web.deps import EDITING
from app.web.forms import FRESH, FormState, problems_of, refused
from app.web.paging import PagedList
from app.web.responses import done, found, removed
from app.web.templating import confirm, render, render_form

router = APIRouter()

TEMPLATES = PagedList(50, key=lambda t: (t.name, t.id))
LIST = "/templates"
PARTS = ("name", "kind", "template_language", "subject", "html_template", "text_template")
# a new layout's starting point: the view-in-browser link above the content, the unsubscribe links below
NEW_LAYOUT = {
    "html_template": '<!doctype html>\n<html>\n<body>\n<p style="font-size: 12px"><a href="{{ view_in_browser_url }}">'
    'View this message in your browser</a></p>\n{{ content }}\n<hr>\n<p style="font-size: 12px">'
    '<a href="{{ preferences_url }}">Your preferences</a> · <a href="{{ unsubscribe_url }}">Unsubscribe</a></p>\n'
    "</body>\n</html>\n",
    "text_template": "View it in your browser: {{ view_in_browser_url }}\n\n{{ content }}\n\n--\n"
    "Your preferences: {{ preferences_url }}\nUnsubscribe: {{ unsubscribe_url }}\n",
}


@router.get("/templates", response_class=HTMLResponse)
def templates_page(request: Request, session: SessionDep) -> HTMLResponse:
    rows, pager = TEMPLATES.fetch(session, request, library.ordered)
    return render(request, "templates.html", {"templates": rows, "pager": pager})


def _form_page(request: Request, row: MessageTemplate | None, form: FormState) -> HTMLResponse:
    return render_form(request, "template.html", {"t": row}, form)


@router.get("/templates/new", response_class=HTMLResponse, dependencies=EDITING)
def new_template(request: Request, kind: str = "template") -> HTMLResponse:
    values: dict[str, Any] = {"kind": "layout" if kind == "layout" else "template", "template_language": "jinja"}
    if values["kind"] == "layout":
        values.update(NEW_LAYOUT)
    return _form_page(request, None, FormState(values=values))


async def _typed(request: Request) -> dict[str, Any]:
    form = await request.form()
    typed = {k: v for k in PARTS if isinstance(v := form.get(k), str)}
    return {k: (v.strip() if k in ("name", "kind", "template_language") else v) for k, v in typed.items()}


@router.post("/templates/new", response_class=HTMLResponse)
async def create_template(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    return await _saved(request, session, settings, None)


@router.get("/templates/{template_id}", response_class=HTMLResponse)
def template_page(template_id: int, request: Request, session: SessionDep) -> HTMLResponse:
    row = _template(session, template_id)
    return _form_page(request, row, FormState(values=row.model_dump()) if row else FRESH)


@router.post("/templates/{template_id}", response_class=HTMLResponse)
async def update_template(template_id: int, request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    return await _saved(request, session, settings, _template(session, template_id))


@router.get("/templates/{template_id}/delete", response_class=HTMLResponse, dependencies=EDITING)
def delete_confirm(template_id: int, request: Request, session: SessionDep) -> HTMLResponse:
    row = _template(session, template_id)
    action = f"{LIST}/{template_id}/delete"
    text = _("Campaigns already made from it keep their copy; a layout a campaign uses cannot be removed.")
    return confirm(request, _("Remove %(name)s?", name=row.name), text, _("Remove"), action, f"{LIST}/{template_id}")


@router.post("/templates/{template_id}/delete")
def delete_template(template_id: int, request: Request, session: SessionDep) -> Response:
    row = _template(session, template_id)
    try:
        return removed(request, session, library.remove, row, LIST, _("Template %(name)s removed.", name=row.name))
    except Refused as exc:
        session.rollback()
        return done(request, f"{LIST}/{template_id}", _("Not removed: %(problem)s", problem=exc))


def _template(session: SessionDep, template_id: int) -> MessageTemplate:
    return found(session, MessageTemplate, template_id, "template")


async def _saved(request: Request, session: SessionDep, settings: SettingsDep, row: MessageTemplate | None) -> Response:
    """Create (ROW None) or change a saved template from the posted form; the form again with what is wrong."""
    typed = await _typed(request)
    try:
        if row is None:
            row = await run_in_threadpool(library.create, session, settings, TemplateCreate(**typed))
            notice = _("Template %(name)s saved.", name=row.name)
        else:
            changes = TemplateUpdate(**typed).model_dump(exclude_unset=True)
            await run_in_threadpool(library.change, session, settings, row, changes)
            notice = _("Template %(name)s saved.", name=row.name)
    except (ValidationError, Refused) as exc:
        session.rollback()
        shown = row if row is not None and row.id else None
        return _form_page(request, shown, refused(problems_of(exc), typed))
    session.commit()
    return done(request, f"{LIST}/{row.id}", notice)

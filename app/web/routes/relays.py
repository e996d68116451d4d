"""Relays on the settings pages: each relay with its state (up, or down since when and why), add one,
change one (the password is write-only: an empty field keeps it), remove one."""

from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError

from app.deps import SessionDep, SettingsDep
from app.i18n import gettext as _
from app.models import Relay
from app.sending import relays
from app.sending.relay_schemas import RelayCreate, RelayUpdate
from app.web.forms import FRESH, FormErrors, FormState, add_validation_errors, refused
from app.web.paging import PagedList
from app.web.templating import render_form

router = APIRouter()

RELAYS = PagedList(50, anchor="#relays")
FIELDS = ("name", "host", "port", "security", "username", "password", "connections", "rate", "weight", "enabled")


def _relay(session: SessionDep, relay_id: int) -> Relay:
    relay = session.get(Relay, relay_id)
    if relay is None:
        raise HTTPException(404, f"no relay with id {relay_id}")
    return relay


def _page(request: Request, session: SessionDep, form: FormState = FRESH) -> HTMLResponse:
    rows, pager = RELAYS.fetch(session, request, relays.relays_ordered)
    return render_form(request, "relays.html", {"relays": [relays.public(r) for r in rows], "pager": pager}, form)


def _edit_page(request: Request, relay: Relay, form: FormState = FRESH) -> HTMLResponse:
    values = form.values or relays.public(relay).model_dump()
    return render_form(request, "relay.html", {"relay": relays.public(relay), "values": values}, form)


async def _typed(request: Request) -> dict[str, Any]:
    """The form's fields as typed; a checkbox not sent is off, an empty field is not given."""
    form = await request.form()
    typed: dict[str, Any] = {k: v for k in FIELDS if isinstance(v := form.get(k), str) and v.strip() != ""}
    typed["enabled"] = form.get("enabled") == "on"
    return typed


def _errors(exc: ValidationError) -> FormErrors:
    errors = FormErrors()
    add_validation_errors(errors, exc)
    return errors


@router.get("/settings/relays", response_class=HTMLResponse)
def relays_page(request: Request, session: SessionDep) -> HTMLResponse:
    return _page(request, session)


@router.post("/settings/relays", response_class=HTMLResponse)
async def create_relay(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    typed = await _typed(request)
    shown = {k: v for k, v in typed.items() if k != "password"}
    try:
        relay = relays.create(session, settings, RelayCreate(**typed))
    except ValidationError as exc:
        return _page(request, session, refused(_errors(exc), shown))
    except relays.RelayRefused as exc:
        return _page(request, session, refused({exc.field: str(exc)}, shown))
    session.commit()
    request.state.audit_object = ("relay", relay.id)
    request.session["notice"] = _('Relay "%(name)s" added.', name=relay.name)
    return RedirectResponse("/settings/relays", status_code=303)


@router.get("/settings/relays/{relay_id}", response_class=HTMLResponse)
def relay_page(relay_id: int, request: Request, session: SessionDep) -> HTMLResponse:
    return _edit_page(request, _relay(session, relay_id))


@router.post("/settings/relays/{relay_id}", response_class=HTMLResponse)
async def update_relay(relay_id: int, request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    relay = _relay(session, relay_id)
    typed = await _typed(request)
    shown = {k: v for k, v in typed.items() if k != "password"}
    try:
        changes = RelayUpdate(**typed).model_dump(exclude_none=True)
        relays.change(session, settings, relay, changes)
    except ValidationError as exc:
        return _edit_page(request, relay, refused(_errors(exc), shown))
    except relays.RelayRefused as exc:
        return _edit_page(request, relay, refused({exc.field: str(exc)}, shown))
    session.commit()
    request.session["notice"] = _('Relay "%(name)s" saved.', name=relay.name)
    return RedirectResponse("/settings/relays", status_code=303)


@router.post("/settings/relays/{relay_id}/delete")
def delete_relay(relay_id: int, request: Request, session: SessionDep) -> Response:
    relay = _relay(session, relay_id)
    try:
        relays.remove(session, relay)
    except relays.RelayRefused as exc:
        request.session["notice"] = str(exc)
        return RedirectResponse("/settings/relays", status_code=303)
    session.commit()
    request.session["notice"] = _('Relay "%(name)s" removed.', name=relay.name)
    return RedirectResponse("/settings/relays", status_code=303)

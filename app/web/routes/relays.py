"""Relays on the settings pages: each relay with its state (up, or down since when and why), add one,
change one (the password is write-only: an empty field keeps it), remove one."""

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import ValidationError

from app.deps import SessionDep, SettingsDep
from app.i18n import gettext as _
from app.models import Relay
from app.sending import relays
from app.sending.refused import Refused
from app.sending.relay_schemas import RelayCreate, RelayUpdate
from app.web.forms import FRESH, FormErrors, FormState, add_validation_errors, refused
from app.web.paging import PagedList
from app.web.responses import done, found, removed
from app.web.templating import render_form

router = APIRouter()

RELAYS = PagedList(50, anchor="#relays")
FIELDS = ("name", "host", "port", "security", "username", "password", "connections", "rate", "weight", "enabled")
LIST = "/settings/relays"


def _page(request: Request, session: SessionDep, relay: Relay | None, form: FormState = FRESH) -> HTMLResponse:
    """The list with the form to add one, or (RELAY) the relay's own page with its form."""
    if relay is not None:
        values = form.values or relays.public(relay).model_dump()
        return render_form(request, "relay.html", {"relay": relays.public(relay), "values": values}, form)
    rows, pager = RELAYS.fetch(session, request, relays.relays_ordered)
    return render_form(request, "relays.html", {"relays": [relays.public(r) for r in rows], "pager": pager}, form)


async def _saved(request: Request, session: SessionDep, settings: SettingsDep, relay: Relay | None) -> Response:
    """Add (RELAY None) or change a relay from the posted form; the form again with what is wrong."""
    form = await request.form()
    typed: dict[str, Any] = {k: v for k in FIELDS if isinstance(v := form.get(k), str) and v.strip() != ""}
    typed["enabled"] = form.get("enabled") == "on"  # a checkbox not ticked is not sent
    try:
        if relay is None:
            relay = relays.create(session, settings, RelayCreate(**typed))
        else:
            relays.change(session, settings, relay, RelayUpdate(**typed).model_dump(exclude_none=True))
    except (ValidationError, Refused) as exc:
        errors = FormErrors()
        if isinstance(exc, ValidationError):
            add_validation_errors(errors, exc)
        else:
            errors.add(exc.field, str(exc))
        session.rollback()
        shown = {k: v for k, v in typed.items() if k != "password"}
        return _page(request, session, relay if relay is not None and relay.id else None, refused(errors, shown))
    session.commit()
    request.state.audit_object = ("relay", relay.id)
    return done(request, LIST, _('Relay "%(name)s" saved.', name=relay.name))


@router.get("/settings/relays", response_class=HTMLResponse)
def relays_page(request: Request, session: SessionDep) -> HTMLResponse:
    return _page(request, session, None)


@router.post("/settings/relays", response_class=HTMLResponse)
async def create_relay(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    return await _saved(request, session, settings, None)


@router.get("/settings/relays/{relay_id}", response_class=HTMLResponse)
def relay_page(relay_id: int, request: Request, session: SessionDep) -> HTMLResponse:
    return _page(request, session, found(session, Relay, relay_id, "relay"))


@router.post("/settings/relays/{relay_id}", response_class=HTMLResponse)
async def update_relay(relay_id: int, request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    return await _saved(request, session, settings, found(session, Relay, relay_id, "relay"))


@router.post("/settings/relays/{relay_id}/delete")
def delete_relay(relay_id: int, request: Request, session: SessionDep) -> Response:
    relay = found(session, Relay, relay_id, "relay")
    try:
        return removed(request, session, relays.remove, relay, LIST, _('Relay "%(name)s" removed.', name=relay.name))
    except Refused as exc:
        return done(request, LIST, str(exc))

"""Sending identities on the settings pages: the list, a new one (its DKIM key is made at once), and each
identity's page with the DNS record to publish, its defaults, relays and headers, a new key, and removal."""

from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError

from app.deps import SessionDep, SettingsDep
from app.i18n import gettext as _
from app.models import SendingIdentity
from app.sending import identities, relays
from app.sending.identity_schemas import IdentityCreate, IdentityUpdate
from app.web.forms import FRESH, FormErrors, FormState, add_validation_errors, ints, refused
from app.web.paging import PagedList
from app.web.templating import render_form

router = APIRouter()

IDENTITIES = PagedList(50, anchor="#identities")
TEXT_FIELDS = ("name", "from_domain", "from_name", "reply_to", "bounce_address", "dkim_selector")


def _identity(session: SessionDep, identity_id: int) -> SendingIdentity:
    identity = session.get(SendingIdentity, identity_id)
    if identity is None:
        raise HTTPException(404, f"no identity with id {identity_id}")
    return identity


def _page(request: Request, session: SessionDep, form: FormState = FRESH) -> HTMLResponse:
    rows, pager = IDENTITIES.fetch(session, request, identities.identities_ordered)
    ctx = {"identities": [identities.public(i) for i in rows], "pager": pager, "relays": relays.all_relays(session)}
    return render_form(request, "identities.html", ctx, form)


def _identity_page(
    request: Request, session: SessionDep, identity: SendingIdentity, form: FormState = FRESH
) -> HTMLResponse:
    shown = identities.public(identity)
    values = form.values or {**shown.model_dump(), "headers": _headers_text(shown.headers)}
    ctx = {"identity": shown, "values": values, "relays": relays.all_relays(session)}
    return render_form(request, "identity.html", ctx, form)


def _headers_text(headers: dict[str, str]) -> str:
    return "\n".join(f"{k}: {v}" for k, v in headers.items())


async def _typed(request: Request) -> tuple[dict[str, Any], FormErrors]:
    """The form's fields (empty ones not given), its relays ticked and its headers, one "Name: value" a line."""
    form = await request.form()
    typed: dict[str, Any] = {k: v.strip() for k in TEXT_FIELDS if isinstance(v := form.get(k), str) and v.strip()}
    typed["relay_ids"] = ints(form, "relay_ids")
    errors = FormErrors()
    headers: dict[str, str] = {}
    raw = form.get("headers")
    for n, line in enumerate((raw if isinstance(raw, str) else "").splitlines(), 1):
        if line.strip():
            name, colon, value = line.partition(":")
            if not colon:
                errors.add("headers", _("line %(n)s: write Name: value", n=n))
            headers[name.strip()] = value.strip()
    typed["headers"] = headers
    return typed, errors


def _shown(typed: dict[str, Any]) -> dict[str, Any]:
    return {**typed, "headers": _headers_text(typed["headers"])}


@router.get("/settings/identities", response_class=HTMLResponse)
def identities_page(request: Request, session: SessionDep) -> HTMLResponse:
    return _page(request, session)


@router.post("/settings/identities", response_class=HTMLResponse)
async def create_identity(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    typed, errors = await _typed(request)
    try:
        body = IdentityCreate(**typed)
    except ValidationError as exc:
        add_validation_errors(errors, exc)
    if errors:
        return _page(request, session, refused(errors, _shown(typed)))
    try:
        identity = identities.create(session, settings, body)
    except identities.IdentityRefused as exc:
        return _page(request, session, refused({exc.field: str(exc)}, _shown(typed)))
    session.commit()
    request.session["notice"] = _("Identity %(name)s created: publish its DKIM record.", name=identity.name)
    return RedirectResponse(f"/settings/identities/{identity.id}", status_code=303)


@router.get("/settings/identities/{identity_id}", response_class=HTMLResponse)
def identity_page(identity_id: int, request: Request, session: SessionDep) -> HTMLResponse:
    return _identity_page(request, session, _identity(session, identity_id))


@router.post("/settings/identities/{identity_id}", response_class=HTMLResponse)
async def update_identity(identity_id: int, request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    identity = _identity(session, identity_id)
    typed, errors = await _typed(request)
    typed.pop("dkim_selector", None)  # a selector changes with a new key only
    try:
        changes = IdentityUpdate(**typed).model_dump(exclude_unset=True)
    except ValidationError as exc:
        add_validation_errors(errors, exc)
    if errors:
        return _identity_page(request, session, identity, refused(errors, _shown(typed)))
    changes.setdefault("reply_to", None)  # an emptied field clears it
    try:
        identities.change(session, settings, identity, changes)
    except identities.IdentityRefused as exc:
        return _identity_page(request, session, identity, refused({exc.field: str(exc)}, _shown(typed)))
    session.commit()
    request.session["notice"] = _("Identity %(name)s saved.", name=identity.name)
    return RedirectResponse(f"/settings/identities/{identity.id}", status_code=303)


@router.post("/settings/identities/{identity_id}/new-key")
def new_key(identity_id: int, request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    identity = _identity(session, identity_id)
    identities.change(session, settings, identity, {"new_dkim_key": True})
    session.commit()
    request.session["notice"] = _("A new DKIM key was made: publish its record before the next campaign.")
    return RedirectResponse(f"/settings/identities/{identity.id}", status_code=303)


@router.post("/settings/identities/{identity_id}/delete")
def delete_identity(identity_id: int, request: Request, session: SessionDep) -> Response:
    identity = _identity(session, identity_id)
    try:
        identities.remove(session, identity)
    except identities.IdentityRefused as exc:
        request.session["notice"] = str(exc)
        return RedirectResponse(f"/settings/identities/{identity.id}", status_code=303)
    session.commit()
    request.session["notice"] = _("Identity %(name)s removed.", name=identity.name)
    return RedirectResponse("/settings/identities", status_code=303)

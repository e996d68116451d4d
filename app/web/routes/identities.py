"""Sending identities on the settings pages: the list, a new one (its DKIM key is made at once), and each
identity's page with the DNS record to publish, its defaults, relays and headers, a new key, and removal."""

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import ValidationError

from app.deliverability.preflight import service as checks
from app.deliverability.preflight.service import PreflightReport
from app.deps import EngineDep, SessionDep, SettingsDep
from app.i18n import gettext as _
from app.models import SendingIdentity, utcnow
from app.sending import guards, identities, relays
from app.sending.identity_schemas import IdentityCreate, IdentityUpdate
from app.sending.refused import Refused
from app.settings import Settings
from app.web.forms import (
    FRESH,
    FormErrors,
    FormState,
    headers_text,
    ints,
    problems_of,
    refused,
    typed_headers,
)
from app.web.paging import PagedList
from app.web.responses import done, found, removed
from app.web.templating import render_form

router = APIRouter()

IDENTITIES = PagedList(50, anchor="#identities")
LIST = "/settings/identities"
TEXT_FIELDS = ("name", "from_domain", "from_name", "reply_to", "bounce_address", "dkim_selector")


def _page(request: Request, session: SessionDep, form: FormState = FRESH) -> HTMLResponse:
    rows, pager = IDENTITIES.fetch(session, request, identities.identities_ordered)
    ctx = {"identities": [identities.public(i) for i in rows], "pager": pager, "relays": relays.all_relays(session)}
    return render_form(request, "identities.html", ctx, form)


def _identity_page(
    request: Request,
    session: SessionDep,
    settings: Settings,
    identity: SendingIdentity,
    form: FormState = FRESH,
    preflight: PreflightReport | None = None,
) -> HTMLResponse:
    shown = identities.public(identity)
    values = form.values or {**shown.model_dump(), "headers": headers_text(shown.headers)}
    assert identity.id is not None
    rates = guards.identity_rates(session, settings, identity.id, utcnow())
    ctx = {"identity": shown, "values": values, "relays": relays.all_relays(session), "guard": rates,
           "report": preflight, "error": None}  # fmt: skip
    return render_form(request, "identity.html", ctx, form)


async def _typed(request: Request) -> tuple[dict[str, Any], FormErrors]:
    """The form's fields (empty ones not given), its relays ticked and its headers, one "Name: value" a line."""
    form = await request.form()
    typed: dict[str, Any] = {k: v.strip() for k in TEXT_FIELDS if isinstance(v := form.get(k), str) and v.strip()}
    typed["relay_ids"] = ints(form, "relay_ids")
    errors = FormErrors()
    typed["headers"] = typed_headers(form, errors)
    return typed, errors


@router.get("/settings/identities", response_class=HTMLResponse)
def identities_page(request: Request, session: SessionDep) -> HTMLResponse:
    return _page(request, session)


async def _saved(
    request: Request, session: SessionDep, settings: SettingsDep, identity: SendingIdentity | None
) -> Response:
    """Create (IDENTITY None) or change an identity from the posted form; the form again with what is wrong."""
    typed, errors = await _typed(request)
    try:
        if errors:
            raise Refused("headers", errors["headers"])
        if identity is None:
            identity = identities.create(session, settings, IdentityCreate(**typed))
            notice = _("Identity %(name)s created: publish its DKIM record.", name=identity.name)
        else:
            typed.pop("dkim_selector", None)  # a selector changes with a new key only
            changes = IdentityUpdate(**typed).model_dump(exclude_unset=True)
            identities.change(session, settings, identity, {"reply_to": None, **changes})  # emptied: cleared
            notice = _("Identity %(name)s saved.", name=identity.name)
    except (ValidationError, Refused) as exc:
        for field, message in problems_of(exc).items():
            errors.add(field, message)
        session.rollback()
        form = refused(errors, {**typed, "headers": headers_text(typed["headers"])})
        if identity is None or not identity.id:
            return _page(request, session, form)
        return _identity_page(request, session, settings, identity, form)
    session.commit()
    return done(request, f"{LIST}/{identity.id}", notice)


@router.post("/settings/identities", response_class=HTMLResponse)
async def create_identity(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    return await _saved(request, session, settings, None)


@router.get("/settings/identities/{identity_id}", response_class=HTMLResponse)
def identity_page(
    identity_id: int,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    engine: EngineDep,
    preflight: bool = False,
) -> HTMLResponse:
    """With `preflight`, the identity's preflight checked now (a GET: it changes nothing), else the last one kept."""
    identity = _identity(session, identity_id)
    report = (
        checks.identity_preflight(session, engine, settings, identity, refresh=True)
        if preflight
        else checks.kept_preflight(engine, settings, checks.identity_sample(identity))
    )
    session.refresh(identity)  # the checks end the session's transaction, which expires what it loaded
    return _identity_page(request, session, settings, identity, preflight=report)


@router.post("/settings/identities/{identity_id}", response_class=HTMLResponse)
async def update_identity(identity_id: int, request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    return await _saved(request, session, settings, _identity(session, identity_id))


@router.post("/settings/identities/{identity_id}/new-key")
def new_key(identity_id: int, request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    identity = _identity(session, identity_id)
    identities.change(session, settings, identity, {"new_dkim_key": True})
    session.commit()
    notice = _("A new DKIM key was made: publish its record before the next campaign.")
    return done(request, f"{LIST}/{identity.id}", notice)


@router.post("/settings/identities/{identity_id}/delete")
def delete_identity(identity_id: int, request: Request, session: SessionDep) -> Response:
    identity = _identity(session, identity_id)
    notice = _("Identity %(name)s removed.", name=identity.name)
    try:
        return removed(request, session, identities.remove, identity, LIST, notice)
    except Refused as exc:
        return done(request, f"{LIST}/{identity.id}", str(exc))


def _identity(session: SessionDep, identity_id: int) -> SendingIdentity:
    return found(session, SendingIdentity, identity_id, "identity")

"""Contacts: find them (search, list and status filters), and one contact's page: its data (editable,
custom fields by type), lists, consent history, deliveries, bounces, suppressions, why it is in or out
of a campaign's audience; its export as JSON, and its erasure after a confirmation."""

import json
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel

from app.audience import contacts, queries, search
from app.audience import fields as custom_fields
from app.audience.search import ContactFilter
from app.deps import SessionDep, SettingsDep
from app.i18n import LANGUAGES
from app.i18n import gettext as _
from app.models import Contact, utcnow
from app.subscription import consent, erasure
from app.web.deps import EDITING
from app.web.forms import FRESH, FormState, refused
from app.web.paging import PagedList
from app.web.responses import removed
from app.web.templating import confirm, render, render_form

router = APIRouter()

PAGE_ROWS = 50
HISTORY_ROWS = 20
CONTACTS = PagedList(PAGE_ROWS, anchor="#contacts")
HISTORY = PagedList(HISTORY_ROWS, "consent", anchor="#consent")
DELIVERIES = PagedList(HISTORY_ROWS, "deliveries", anchor="#deliveries", key=lambda r: (r[0].id,), scalars=False)
BOUNCES = PagedList(HISTORY_ROWS, "bounces", anchor="#bounces")
FIELDS = PagedList(100, key=lambda f: (f.name, f.id))


def user_actor(request: Request) -> consent.Actor:
    """The signed-in user, as the consent ledger names them."""
    return consent.Actor(
        consent.ActorKind.USER,
        f"user {request.session.get('email', '')}",
        ip=request.client.host if request.client else None,
        user_agent=request.headers.get("user-agent"),
    )


def _get(session: SessionDep, contact_id: int) -> Contact:
    contact = session.get(Contact, contact_id)
    if contact is None:
        raise HTTPException(404, _("no contact with id %(id)s", id=contact_id))
    return contact


@router.get("/contacts", response_class=HTMLResponse)
def contacts_page(
    request: Request, session: SessionDep, q: str = "", list_id: str = "", status: str = ""
) -> HTMLResponse:
    chosen = int(list_id) if list_id.isdigit() else None
    f = ContactFilter(q[: search.SEARCH_MAX], chosen, status if status in search.STATUSES else "")
    rows, pager = CONTACTS.fetch(session, request, search.ordered(session, f))
    ctx = {
        "rows": contacts.with_status(session, rows),
        "pager": pager,
        "q": q,
        "list_id": chosen,
        "status": f.status,
        "statuses": search.STATUSES,
        "lists": queries.lists_by_name(session),
    }
    return render(request, "contacts.html", ctx)


def _contact_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    contact: Contact,
    form: FormState = FRESH,
) -> HTMLResponse:
    assert contact.id is not None
    view = contacts.view(session, contact)
    history, history_pager = HISTORY.fetch(session, request, lambda c: consent.newest_first(contact.id or 0, c))
    deliveries, deliveries_pager = DELIVERIES.fetch(
        session, request, lambda c: contacts.deliveries_newest_first(contact, c)
    )
    bounces, bounces_pager = BOUNCES.fetch(session, request, lambda c: contacts.bounces_newest_first(contact, c))
    campaign = request.query_params.get("campaign", "")
    verdict = (
        contacts.why_for_campaign(session, contact, int(campaign), settings, utcnow()) if campaign.isdigit() else None
    )
    ctx = {
        "c": view.contact,
        "erased": erasure.is_erased(contact),
        "lists": view.lists,
        "suppressions": view.suppressions,
        "fields": view.fields,
        "others": {k: v for k, v in view.contact.attributes.items() if k not in {f.name for f in view.fields}},
        "history": history,
        "history_pager": history_pager,
        "deliveries": deliveries,
        "deliveries_pager": deliveries_pager,
        "bounces": bounces,
        "bounces_pager": bounces_pager,
        "campaigns": contacts.recent_campaigns(session),
        "campaign": int(campaign) if campaign.isdigit() else None,
        "verdict": verdict,
        "languages": LANGUAGES,
    }
    return render_form(request, "contact.html", ctx, form)


@router.get("/contacts/{contact_id}", response_class=HTMLResponse)
def contact_page(contact_id: int, request: Request, session: SessionDep, settings: SettingsDep) -> HTMLResponse:
    return _contact_page(request, session, settings, _get(session, contact_id))


@router.post("/contacts/{contact_id}", response_class=HTMLResponse)
async def save_contact(contact_id: int, request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    form = await request.form()
    values = {k: v for k, v in form.items() if isinstance(v, str) and k != "csrf_token"}
    contact = _get(session, contact_id)
    attributes: dict[str, Any] = {k.removeprefix("field_"): v for k, v in values.items() if k.startswith("field_")}
    for f in custom_fields.all_fields(session):  # an unticked box sends nothing
        if f.type == "boolean" and f"field_{f.name}" not in values:
            attributes[f.name] = None if not f.required else "no"
    try:
        attributes |= json.loads(values.get("other_attributes") or "{}") if values.get("other_attributes") else {}
    except (ValueError, TypeError):
        errors = {"other_attributes": _("write them as a JSON object, e.g. %(example)s", example='{"city": "Berlin"}')}
        return _contact_page(request, session, settings, contact, refused(errors, values))
    try:
        changed = contacts.update(
            session, contact, values.get("first_name", ""), values.get("last_name", ""), attributes,
            user_actor(request), utcnow(), names_given={"first_name", "last_name"}, language=values.get("language"),
        )  # fmt: skip
    except contacts.ContactInvalid as exc:
        session.rollback()
        errors = {f.replace("attributes.", "field_"): m for f, m in exc.problems}
        return _contact_page(request, session, settings, contact, refused(errors, values))
    except contacts.ContactErased as exc:
        raise HTTPException(409, str(exc)) from None
    session.commit()
    request.session["notice"] = _("Saved: %(fields)s.", fields=", ".join(changed)) if changed else _("Nothing changed.")
    return RedirectResponse(f"/contacts/{contact_id}", status_code=303)


@router.get("/contacts/{contact_id}/export.json")
def export(contact_id: int, session: SessionDep) -> Response:
    data = contacts.export(session, _get(session, contact_id), utcnow())
    return Response(
        data.model_dump_json(indent=2),
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="contact-{contact_id}.json"'},
    )


@router.get("/contacts/{contact_id}/erase", response_class=HTMLResponse, dependencies=EDITING)
def erase_confirm(contact_id: int, request: Request, session: SessionDep) -> HTMLResponse:
    contact = _get(session, contact_id)
    text = _(
        "Their address, names and attributes are removed everywhere bulkmail keeps them (contact, lists, "
        "campaign ledgers, bounces, suppressions, webhook events). A salted hash of the address stays in the "
        "suppression list, so no import brings them back, and the erasure is recorded in the consent history. "
        "This cannot be undone; download the export first if the person asked for a copy."
    )
    title = _("Erase %(who)s?", who=contact.email or _("this contact"))
    page = f"/contacts/{contact_id}"
    return confirm(request, title, text, _("Erase the person's data"), f"{page}/erase", page)


@router.post("/contacts/{contact_id}/erase")
def erase(contact_id: int, request: Request, session: SessionDep) -> RedirectResponse:
    try:
        erasure.erase(session, _get(session, contact_id), user_actor(request), utcnow())
    except erasure.AlreadyErased as exc:
        raise HTTPException(409, str(exc)) from None
    session.commit()
    request.session["notice"] = _("Contact %(id)s was erased.", id=contact_id)
    return RedirectResponse(f"/contacts/{contact_id}", status_code=303)


class FieldForm(BaseModel):
    name: str = ""
    label: str = ""
    type: str = "text"
    choices: str = ""
    required: str = ""  # a ticked box sends a value, an unticked one nothing
    subscriber_editable: str = ""


@router.get("/fields", response_class=HTMLResponse)
def fields_page(request: Request, session: SessionDep) -> HTMLResponse:
    return _fields_page(request, session)


def _fields_page(request: Request, session: SessionDep, form: FormState = FRESH) -> HTMLResponse:
    rows, pager = FIELDS.fetch(session, request, custom_fields.by_name)
    return render_form(request, "fields.html", {"rows": rows, "pager": pager, "types": custom_fields.TYPES}, form)


@router.post("/fields", response_class=HTMLResponse)
def add_field(request: Request, session: SessionDep, form: Annotated[FieldForm, Form()]) -> Response:
    options = [c for c in form.choices.replace(",", "\n").splitlines() if c.strip()]
    try:
        f = custom_fields.define(
            session, form.name, form.label, form.type, options, bool(form.required), bool(form.subscriber_editable)
        )
    except custom_fields.FieldProblem as exc:
        session.rollback()
        return _fields_page(request, session, refused({exc.field: exc.message}, form.model_dump()))
    session.commit()
    request.session["notice"] = _(
        "The field %(label)s is defined; templates use it as %(usage)s.", label=f.label, usage="{{ " + f.name + " }}"
    )
    return RedirectResponse("/fields", status_code=303)


@router.post("/fields/{field_id}/subscriber-editable")
def toggle_subscriber_editable(
    field_id: int, request: Request, session: SessionDep, editable: Annotated[str, Form()] = ""
) -> RedirectResponse:
    f = custom_fields.get(session, field_id)
    if f is None:
        raise HTTPException(404, _("no custom field with id %(id)s", id=field_id))
    custom_fields.change(session, f, subscriber_editable=bool(editable))
    session.commit()
    request.session["notice"] = (
        _("Subscribers may now change %(label)s on their preference page.", label=f.label)
        if f.subscriber_editable
        else _("Subscribers no longer see %(label)s on their preference page.", label=f.label)
    )
    return RedirectResponse("/fields", status_code=303)


@router.post("/fields/{field_id}/remove")
def remove_field(field_id: int, request: Request, session: SessionDep) -> RedirectResponse:
    f = custom_fields.get(session, field_id)
    if f is None:
        raise HTTPException(404, _("no custom field with id %(id)s", id=field_id))
    notice = _("The field %(label)s is gone; contacts keep their values as plain attributes.", label=f.label)
    return removed(request, session, custom_fields.remove, f, "/fields", notice)

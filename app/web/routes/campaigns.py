"""Compose (with a live preview for a sample contact), test send, preflight, schedule, launch, pause, resume,
cancel; the campaign page with its live progress and the ledger search."""

from collections.abc import Callable
from datetime import datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError
from sqlmodel import Session

from app.audience import queries as audience_queries
from app.audience.segments import store as segment_store
from app.deliverability.preflight.service import campaign_preflight, kept_preflight
from app.deps import EngineDep, SessionDep, SettingsDep
from app.i18n import N_
from app.i18n import gettext as _
from app.models import Campaign, MessageTemplate, utcnow
from app.sending import archive, bodies, guards, identities, library, pacing_store, queries, relays, schedule
from app.sending import campaigns as service
from app.sending.compose import PREVIEW_TOKEN, preferences_url, unsubscribe_url, view_url
from app.sending.relay import RelayError
from app.sending.render import (
    CampaignTemplates,
    RenderFailed,
    TemplateProblem,
    contact_context,
    field_name,
    render_limits,
)
from app.sending.sandbox import Limits
from app.sending.schemas import CampaignCreate
from app.sending.testsend import test_send
from app.settings import Settings
from app.web.deps import EDITING
from app.web.forms import (
    FormErrors,
    FormState,
    add_validation_errors,
    addresses,
    headers_text,
    ints,
    refused,
    text,
    typed_headers,
)
from app.web.paging import PagedList, Pager
from app.web.progress import campaign_progress
from app.web.templating import render, render_form

router = APIRouter()

FIELDS = ("name", "from_name", "from_address", "reply_to", "subject", "html_template", "text_template")
COMPOSED = ("template_language", "layout_id", "archived")
LEDGER = PagedList(20, anchor="#ledger-h")
PACED = PagedList(20, param="paced", anchor="#paced-h", key=lambda st: (st.key,))
CAMPAIGNS = PagedList(50)
REQUIRED = {
    "name": N_("give the campaign a name"),
    "from_address": N_("enter the address it is sent from"),
    "subject": N_("enter a subject line"),
}
PREVIEWED = ("subject", "html_template", "text_template", "layout_id", "template_language")
STAND_INS = {"name": "untitled", "from_address": "", "subject": "-"}  # checked in place of a blank, never saved


def _get(session: Session, campaign_id: int) -> Campaign:
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise HTTPException(404, _("no campaign %(id)s", id=campaign_id))
    return campaign


def _from_form(
    form: Any, session: Session, limits: Limits, preview: bool = False
) -> tuple[dict[str, Any], Campaign | None, FormErrors]:
    """The form's values, the campaign they describe (None when invalid) and the errors by field.
    A preview does not count a required field left empty as an error: nobody has typed it yet."""
    errors = FormErrors()
    values: dict[str, Any] = {
        f: text(form, f) if f not in ("html_template", "text_template") else (form.get(f) or "") for f in FIELDS
    }
    values["reply_to"] = values["reply_to"] or None
    for name in service.AUDIENCE_FIELDS:
        values[name] = ints(form, name)
    values["identity_id"] = next(iter(ints(form, "identity_id")), None)  # none chosen: the settings' sender
    values["relay_ids"] = ints(form, "relay_ids")
    values["headers"] = typed_headers(form, errors)
    values["template_language"] = text(form, "template_language") or "jinja"
    values["layout_id"] = next(iter(ints(form, "layout_id")), None)
    values["archived"] = bool(text(form, "archived"))
    values["tracking"] = text(form, "tracking") or None  # none chosen: the settings' default
    raw_send_at, values["send_zone"] = text(form, "send_at"), text(form, "send_zone") or None
    values["send_at"] = None
    if raw_send_at:
        try:
            values["send_at"] = schedule.to_utc(datetime.fromisoformat(raw_send_at), values["send_zone"])
        except schedule.ScheduleInvalid as exc:
            errors.add(exc.field, str(exc))
        except ValueError:
            errors.add("send_at", _("enter a date and time, e.g. 2026-05-01 09:00"))
    body_values = {k: v for k, v in values.items() if k != "send_zone"}
    if raw_send_at and values["send_at"] is None:
        values["send_at"] = raw_send_at  # shown again as typed
    blank = [f for f in REQUIRED if not values[f]]
    if not preview:
        for f in blank:
            errors.add(f, _(REQUIRED[f]))
    # a stand-in for each blank field, so everything else (the templates above all) is still checked
    try:
        body = CampaignCreate(**{**body_values, **{f: STAND_INS[f] for f in blank}})
    except ValidationError as exc:
        add_validation_errors(errors, exc)
        return values, None, errors
    campaign = Campaign.model_validate(body)
    try:
        service.check_campaign(session, campaign, limits)
    except service.CampaignInvalid as exc:  # every template's errors at once, each next to its field
        for field in dict.fromkeys(f for f, _m in exc.problems):
            errors.add(field, "; ".join(m for f, m in exc.problems if f == field))
    return values, (None if errors or blank else campaign), errors


def _compose_page(
    request: Request, session: Session, form: FormState, campaign: Campaign | None = None
) -> HTMLResponse:
    lists = audience_queries.lists_by_name(session)
    senders = [(i.id, i.name) for i in identities.all_identities(session)]
    values = {**form.values, "headers": headers_text(form.values.get("headers") or {})}
    zone = values.get("send_zone") or _user_zone(request)
    if isinstance(values.get("send_at"), datetime):  # stored in UTC: shown on the zone's wall clock
        values["send_at"] = f"{schedule.in_zone(values['send_at'], zone):%Y-%m-%dT%H:%M}"
    values["send_zone"] = zone
    ctx = {
        "lists": lists,
        "segments": segment_store.all_segments(session),
        "campaign": campaign,
        "identities": senders,
        "relays": relays.all_relays(session),
        "layouts": library.choices(session, "layout"),
        "saved_templates": library.choices(session, "template") if campaign is None else [],
        "zones": [(z, z) for z in schedule.zone_names()],
    }
    return render_form(request, "compose.html", ctx, FormState(form.errors, values, form.status_code))


def _user_zone(request: Request) -> str:
    user = getattr(request.state, "user", None)
    return (user.time_zone if user is not None else None) or schedule.DEFAULT_ZONE


@router.get("/campaigns", response_class=HTMLResponse)
def campaigns_page(request: Request, session: SessionDep, state: str = "") -> HTMLResponse:
    rows, pager = CAMPAIGNS.fetch(session, request, lambda c: queries.campaigns_newest_first(c, state))
    return render(request, "campaigns.html", {"campaigns": rows, "pager": pager, "state": state})


@router.get("/campaigns/new", response_class=HTMLResponse, dependencies=EDITING)
def new_campaign(
    request: Request, session: SessionDep, settings: SettingsDep, template_id: int | None = None
) -> HTMLResponse:
    """A new draft; with TEMPLATE_ID, started from that saved template."""
    values: dict[str, Any] = {
        "from_address": settings.bounce_address,
        "list_ids": [],
        "subject": "",
        "text_template": "Hello {{ first_name }},\n\n\n--\nView it in your browser: {{ view_in_browser_url }}\n"
        "Your preferences: {{ preferences_url }}\nUnsubscribe: {{ unsubscribe_url }}\n",
    }
    if template_id is not None:
        values.update(library.starting_values(session, template_id))
    return _compose_page(request, session, FormState(values=values))


@router.post("/campaigns/new", response_class=HTMLResponse)
async def create_campaign(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    values, campaign, errors = await run_in_threadpool(
        _from_form, await request.form(), session, render_limits(settings)
    )
    if campaign is None:
        return _compose_page(request, session, refused(errors, values))
    session.add(campaign)
    session.commit()
    request.session["notice"] = _("Draft saved.")
    return RedirectResponse(f"/campaigns/{campaign.id}", status_code=303)


@router.get("/campaigns/{campaign_id}/edit", response_class=HTMLResponse, dependencies=EDITING)
def edit_campaign(campaign_id: int, request: Request, session: SessionDep) -> HTMLResponse:
    campaign = _get(session, campaign_id)
    return _compose_page(request, session, FormState(values=campaign.model_dump()), campaign)


@router.post("/campaigns/{campaign_id}/edit", response_class=HTMLResponse)
async def save_campaign(campaign_id: int, request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    form = await request.form()
    values, checked, errors = await run_in_threadpool(_from_form, form, session, render_limits(settings))
    campaign = _get(session, campaign_id)  # after the check: it ends the session's transaction
    try:
        service.check_editable(
            campaign,
            any(set(values[f]) != set(getattr(campaign, f)) for f in service.AUDIENCE_FIELDS),
            values["tracking"] or "",  # "as the settings say" is a change too once launch fixed one
        )
    except service.CampaignStateError as exc:
        errors.add("name", str(exc))
    except service.CampaignInvalid as exc:
        errors.add(exc.field, exc.detail)
    if checked is None or errors:
        return _compose_page(request, session, refused(errors, values), campaign)
    for key in (
        *FIELDS,
        *service.AUDIENCE_FIELDS,
        "send_at",
        "identity_id",
        "relay_ids",
        "headers",
        "tracking",
        *COMPOSED,
    ):
        setattr(campaign, key, getattr(checked, key))
    campaign.updated_at = utcnow()
    session.add(campaign)
    session.commit()
    request.session["notice"] = _("Campaign saved.")
    return RedirectResponse(f"/campaigns/{campaign_id}", status_code=303)


@router.post("/campaigns/preview", response_class=HTMLResponse)
async def preview(request: Request, session: SessionDep, settings: SettingsDep) -> HTMLResponse:
    """The compose form rendered for a sample contact of the chosen lists, or the error at its line."""
    request.state.audit_skip = True  # shows, changes nothing
    form = await request.form()
    limits = render_limits(settings)
    # off the event loop: rendering takes up to the render time limit
    values, campaign, errors = await run_in_threadpool(_from_form, form, session, limits, True)
    template_errors = {k: v for k, v in errors.items() if k in PREVIEWED}
    rendered = sample = None
    if not template_errors and values.get("subject") is not None:
        sample, rendered, failure = await run_in_threadpool(_render_sample, session, settings, values, limits)
        template_errors.update(failure)
    ctx = {
        "errors": template_errors,
        "other_errors": {k: v for k, v in errors.items() if k not in template_errors},
        "rendered": rendered,
        "sample": sample,
    }
    return render(request, "_preview.html", ctx)


def _sample_context(
    session: Session, settings: Settings, list_ids: list[int], name: str
) -> tuple[tuple[str, str | None, str | None, dict[str, Any]], dict[str, Any]]:
    """A sample contact of the lists and the template variables a message to it has."""
    sample = _sample(session, list_ids)
    session.rollback()  # a read: no transaction (on SQLite, the write lock) while the templates render
    link = unsubscribe_url(settings.base_url, PREVIEW_TOKEN)  # the real link's shape, never a real token
    prefs = preferences_url(settings.base_url, PREVIEW_TOKEN)
    web = view_url(settings.base_url, b"", None)
    ctx = {"unsubscribe_url": link, "preferences_url": prefs, "view_in_browser_url": web, "campaign": name}
    return sample, {**contact_context(*sample), **ctx}


def _render_sample(
    session: Session, settings: Settings, values: dict[str, Any], limits: Limits
) -> tuple[tuple[str, str | None, str | None, dict[str, Any]], tuple[str, ...] | None, dict[str, str]]:
    """(the sample contact, its subject/html/text, the error by field when it does not render)."""
    try:
        layout = bodies.layout_of(session, values["layout_id"])
        layout = None if layout is None else MessageTemplate.model_validate(layout.model_dump())  # past the rollback
        sample, ctx = _sample_context(session, settings, values["list_ids"], values["name"])
        parts = (values["subject"], values["html_template"], values["text_template"], values["template_language"])
        assembled = bodies.assemble(*parts, layout, limits)  # MJML compiled once for this preview
        templates = CampaignTemplates.compile(assembled.subject, assembled.html, assembled.text)
        return sample, templates.render(ctx, limits), {}
    except TemplateProblem as exc:  # the layout is gone, or the MJML does not compile
        return _sample(session, values["list_ids"]), None, {exc.field: exc.detail}
    except RenderFailed as exc:  # check_campaign passed, so only a contact-specific failure lands here
        return sample, None, {field_name(exc.part): str(exc)}


def _sample_subject(session: Session, settings: Settings, campaign: Campaign) -> str | None:
    """The campaign's subject as the preview's sample contact reads it (None when it no longer renders)."""
    _sample, ctx = _sample_context(session, settings, campaign.list_ids, campaign.name)
    try:
        (subject,) = CampaignTemplates.compile(campaign.subject, "", "").render(
            ctx, render_limits(settings), ["subject"]
        )
        return subject
    except (TemplateProblem, RenderFailed):  # the contacts changed since the check; the edit page's preview says why
        return None


def _sample(session: Session, list_ids: list[int]) -> tuple[str, str | None, str | None, dict[str, Any]]:
    return queries.first_contact(session, list_ids) or ("someone@example.com", "Ann", "Example", {})


def _ledger(session: Session, request: Request, campaign_id: int, email: str) -> tuple[list[dict[str, Any]], Pager]:
    rows, pager = LEDGER.fetch(session, request, lambda c: queries.deliveries_in_order(campaign_id, c, email))
    attempts, bounces = queries.attempts_and_bounces(session, [d.id for d in rows])
    found = [{"d": d, "attempts": attempts.get(d.id, []), "bounces": bounces.get(d.id, [])} for d in rows]
    return found, pager


@router.get("/campaigns/{campaign_id}", response_class=HTMLResponse)
def campaign_page(
    campaign_id: int, request: Request, session: SessionDep, settings: SettingsDep, email: str = Query("")
) -> HTMLResponse:
    campaign = _get(session, campaign_id)
    names = audience_queries.list_names(session)
    segments = segment_store.names(session)
    subject = _sample_subject(session, settings, campaign)
    notice_state = request.session.pop("notice_state", None)
    if notice_state is not None and notice_state != campaign.state:  # "Campaign launched." of a finished one
        request.session.pop("notice", None)
    ledger, ledger_pager = _ledger(session, request, campaign_id, email) if email.strip() else (None, None)
    paced, paced_pager = (
        PACED.fetch(session, request, lambda c: pacing_store.slowed_in_order(utcnow(), c))
        if campaign.state == "sending"
        else ([], None)
    )
    ctx = {
        "paced": paced,
        "paced_pager": paced_pager,
        "now": utcnow(),
        "c": campaign,
        # a ledger search shows the counts of the campaign's view it was typed into
        "p": campaign_progress(session, campaign, recent_ok=bool(email.strip())),
        "email": email,
        "subject": subject,
        "notice_state": notice_state,
        "ledger": ledger,
        "ledger_pager": ledger_pager,
        "list_names": [names.get(i, _("list %(id)s", id=i)) for i in campaign.list_ids],
        "archive_lists": archive.archive_lists_of(session, campaign) if campaign.archived else [],
        "segment_names": [segments.get(i, _("segment %(id)s", id=i)) for i in campaign.segment_ids],
        "excluded_names": [names.get(i, _("list %(id)s", id=i)) for i in campaign.exclude_list_ids]
        + [segments.get(i, _("segment %(id)s", id=i)) for i in campaign.exclude_segment_ids],
        "test_results": request.session.pop("test_results", None),
        "test_error": request.session.pop("test_error", None),
        "test_to": request.session.pop("test_to", ""),
        "editable_states": service.EDITABLE_STATES,
        "rates": None,
        "identity": identities.sending_of(session, campaign).identity,
    }
    if campaign.launched_at is not None and campaign.id is not None:
        ctx["rates"], ctx["compliance"] = guards.campaign_report(session, settings, campaign.id)
    return render(request, "campaign.html", ctx)


@router.get("/campaigns/{campaign_id}/progress", response_class=HTMLResponse)
def progress_fragment(campaign_id: int, request: Request, session: SessionDep) -> HTMLResponse:
    campaign = _get(session, campaign_id)
    ctx = {
        "c": campaign,
        "p": campaign_progress(session, campaign),
        "editable_states": service.EDITABLE_STATES,
    }
    return render(request, "_campaign_progress.html", ctx)


def _act(request: Request, session: Session, campaign: Campaign, action: Callable[[], object], done: str) -> None:
    try:
        action()
    except (service.CampaignStateError, service.CampaignInvalid) as exc:
        session.rollback()
        request.session["notice"] = _("Not done: %(problem)s", problem=exc)
        return
    session.add(campaign)
    session.commit()
    request.session["notice"] = done
    request.session["notice_state"] = campaign.state  # the notice holds only while the campaign is in it


@router.get("/campaigns/{campaign_id}/preflight", response_class=HTMLResponse)
def preflight_page(
    campaign_id: int,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    engine: EngineDep,
    run: bool = Query(False),
) -> HTMLResponse:
    """The preflight's findings, problems first, each with what to change; with `run`, checked now (a GET:
    it changes nothing, so a viewer may run it too), else the last result kept, if any."""
    campaign = _get(session, campaign_id)
    report, error = kept_preflight(engine, settings, campaign), None
    if run:
        try:
            service.check_campaign(session, campaign, render_limits(settings))
            report = campaign_preflight(session, engine, settings, campaign, refresh=True)
        except (service.CampaignInvalid, RenderFailed) as exc:
            error = _("not checked: fix the campaign first: %(problem)s", problem=exc)
    ctx = {"back_url": f"/campaigns/{campaign.id}", "back_name": campaign.name, "report": report, "error": error}
    return render(request, "preflight.html", ctx)


@router.post("/campaigns/{campaign_id}/test", response_class=HTMLResponse)
async def test_send_page(
    campaign_id: int, request: Request, session: SessionDep, settings: SettingsDep, engine: EngineDep
) -> RedirectResponse:
    campaign = _get(session, campaign_id)
    to = addresses(text(await request.form(), "to"))
    request.session["test_to"] = ", ".join(to)
    try:
        await run_in_threadpool(service.check_campaign, session, campaign, render_limits(settings))
        results = await run_in_threadpool(test_send, session, engine, settings, campaign, to, None)
        request.session["test_results"] = [[r.address, r.ok, r.reply] for r in results]
    except service.CampaignInvalid as exc:
        request.session["test_error"] = _("not sent: fix the campaign first: %(problem)s", problem=exc)
    except service.CampaignStateError as exc:
        request.session["test_error"] = _("not sent: %(problem)s", problem=exc)
    except (ValueError, LookupError) as exc:  # testsend names the field: "to: ..." or "to[2]: ..."
        request.session["test_error"] = str(exc).partition(": ")[2]
    except RelayError as exc:
        request.session["test_error"] = _("not sent: relay %(kind)s error: %(problem)s", kind=exc.kind, problem=exc)
    return RedirectResponse(f"/campaigns/{campaign_id}#test", status_code=303)


@router.post("/campaigns/{campaign_id}/{action}")
def campaign_action(
    campaign_id: int, action: str, request: Request, session: SessionDep, settings: SettingsDep
) -> RedirectResponse:
    campaign = _get(session, campaign_id)
    now = utcnow()
    if action == "launch":
        _act(
            request,
            session,
            campaign,
            lambda: service.launch(session, campaign, settings, now),
            _("Campaign scheduled.") if campaign.send_at and campaign.send_at > now else _("Campaign launched."),
        )
    elif action == "pause":
        _act(request, session, campaign, lambda: service.pause(campaign, now), _("Campaign paused."))
    elif action in ("resume", "override"):  # override: resume past the deliverability guard
        _act(
            request,
            session,
            campaign,
            lambda: service.resume(session, campaign, settings, now, override_guard=action == "override"),
            _("Campaign resumed."),
        )
    elif action == "cancel":
        _act(request, session, campaign, lambda: service.cancel(session, campaign, now), _("Campaign cancelled."))
    elif action == "duplicate":
        copy = service.duplicate(session, campaign, _("%(name)s (copy)", name=campaign.name))
        session.commit()
        request.session["notice"] = _("Copied: this is a new draft.")
        return RedirectResponse(f"/campaigns/{copy.id}/edit", status_code=303)
    else:
        raise HTTPException(404, _("no action %(action)r", action=action))
    return RedirectResponse(f"/campaigns/{campaign_id}", status_code=303)

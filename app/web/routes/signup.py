"""Signup: the public hosted form of a list (`/s/ID`, no sign-in; the embeddable snippet posts to it) and
its confirmation link (`/s/confirm/TOKEN`). (The list page holds the signup settings.)

The form's answer is the same page with the same status for every address it takes, whether new, waiting,
subscribed, suppressed or a bot's (honeypot): nothing on it tells them apart. Posts are limited per client
IP (a token bucket: BULKMAIL_SIGNUP_RATE_BURST at once, then BULKMAIL_SIGNUP_RATE_PER_MINUTE); over it
they get 429 with a page saying when to try again. The confirmation link's GET shows a button and only its
POST confirms, because mail scanners and previews fetch links nobody clicked."""

import math
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import FormData, UploadFile

from app import i18n
from app.deps import EngineDep, SessionDep, SettingsDep
from app.i18n import gettext as _
from app.rate_limit import MemoryBuckets
from app.settings import Settings
from app.subscription import consent, forms
from app.subscription.signup import (
    ConfirmInvalid,
    NoSuchForm,
    SignupRefused,
    Submission,
    confirm,
    pending_confirmation,
    public_form,
    request_signup,
    signup_form,
)
from app.web.forms import FormState, refused
from app.web.templating import templates

public = APIRouter(include_in_schema=False)
MAX_BODY = 64 * 1024  # a signup is a few short fields
MAX_FIELDS = 200


def _page(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> HTMLResponse:
    """A subscriber's page: no session, no CSRF token, nothing that differs between two visitors."""
    return templates.TemplateResponse(request, name, context, status_code=status_code)


def _form_context(session: SessionDep, list_id: int, state: FormState) -> dict[str, Any]:
    shown = public_form(session, list_id)
    return {
        "list": shown.mailing_list,
        "fields": shown.fields,
        "consent": shown.consent,
        "honeypot": forms.HONEYPOT,
        "errors": state.errors,
        "values": state.values,
    }


def _not_found(request: Request) -> HTMLResponse:
    return _page(request, "signup_missing.html", {}, 404)


@public.get("/s/{list_id}", response_class=HTMLResponse)
def form_page(list_id: int, request: Request, session: SessionDep) -> HTMLResponse:
    try:
        return _page(request, "signup.html", _form_context(session, list_id, FormState()))
    except NoSuchForm:
        return _not_found(request)


def _buckets(request: Request, settings: Settings) -> MemoryBuckets | None:
    if settings.signup_rate_per_minute <= 0:
        return None
    wanted = (settings.signup_rate_per_minute / 60, settings.signup_rate_burst)
    buckets: MemoryBuckets | None = getattr(request.app.state, "signup_buckets", None)
    if buckets is None or (buckets.rate, buckets.burst) != wanted:
        buckets = request.app.state.signup_buckets = MemoryBuckets(*wanted)
    return buckets


def _client(request: Request) -> str:
    return request.client.host if request.client else ""


async def _bounded_form(request: Request) -> FormData | None:
    """The posted fields (application/x-www-form-urlencoded, what the form and the snippet send), read up to
    MAX_BODY bytes; None for a bigger body (a public endpoint must not buffer whatever it is sent)."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            return None
    try:
        text = body.decode("utf-8", "replace")
        pairs: list[tuple[str, str | UploadFile]] = list(
            parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_FIELDS)
        )
    except ValueError:  # more fields than any form of ours has
        return None
    return FormData(pairs)


def _submission(form: FormData, chosen: list[str], language: str | None) -> Submission:
    def text(name: str) -> str:
        value = form.get(name)
        return value if isinstance(value, str) else ""

    version = text("consent_version")
    return Submission(
        email=text("email"),
        first_name=text("first_name"),
        last_name=text("last_name"),
        fields={name: text(name) for name in chosen},
        consent_version=int(version) if version.isdigit() and len(version) < 9 else None,
        honeypot=text(forms.HONEYPOT),
        language=language,
    )


@public.post("/s/{list_id}", response_class=HTMLResponse)
async def sign_up(
    list_id: int, request: Request, session: SessionDep, settings: SettingsDep, engine: EngineDep
) -> Response:
    buckets = _buckets(request, settings)
    wait = buckets.take(_client(request)) if buckets is not None else 0.0
    if wait:
        seconds = max(1, math.ceil(wait))
        limited = _page(request, "signup_limited.html", {"seconds": seconds}, 429)
        limited.headers["Retry-After"] = str(seconds)
        return limited
    try:
        _ml, form_settings = await run_in_threadpool(signup_form, session, list_id)
    except NoSuchForm:
        return _not_found(request)
    chosen = list(form_settings.fields)
    session.rollback()
    form = await _bounded_form(request)
    if form is None:
        too_big = refused({"email": _("the form sent was too large")})
        return _page(request, "signup.html", await run_in_threadpool(_form_context, session, list_id, too_big), 413)
    # the language the browser asked for is the new contact's (none named: the installation's, when mailed)
    submission = _submission(form, chosen, i18n.from_accept_language(request.headers.get("accept-language")))
    actor = consent.Actor(consent.ActorKind.FORM, f"form of list {list_id}", _client(request) or None,
                          request.headers.get("user-agent"))  # fmt: skip
    try:
        await run_in_threadpool(request_signup, engine, list_id, submission, actor)
    except NoSuchForm:
        return _not_found(request)
    except SignupRefused as exc:
        values = {k: v for k, v in form.multi_items() if isinstance(v, str) and k != forms.HONEYPOT}
        context = await run_in_threadpool(_form_context, session, list_id, refused({exc.field: exc.message}, values))
        return _page(request, "signup.html", context, 400)
    return _page(request, "signup_thanks.html", {})


@public.get("/s/confirm/{token}", response_class=HTMLResponse)
def confirm_page(token: str, request: Request, settings: SettingsDep, engine: EngineDep) -> HTMLResponse:
    try:
        pending = pending_confirmation(engine, settings, token)
    except ConfirmInvalid as exc:
        return _page(request, "signup_invalid.html", {"message": str(exc)}, 404)
    i18n.use(pending.language)
    return _page(request, "signup_confirm.html", {"list_name": pending.list_name, "action": f"/s/confirm/{token}"})


@public.post("/s/confirm/{token}", response_class=HTMLResponse)
def confirm_signup(token: str, request: Request, settings: SettingsDep, engine: EngineDep) -> HTMLResponse:
    actor = consent.Actor(consent.ActorKind.FORM, "confirmation link", _client(request) or None,
                          request.headers.get("user-agent"))  # fmt: skip
    try:
        done = confirm(engine, settings, token, actor)
    except ConfirmInvalid as exc:
        return _page(request, "signup_invalid.html", {"message": str(exc)}, 404)
    i18n.use(done.language)
    return _page(request, "signup_confirmed.html", {"list_name": done.list_name})

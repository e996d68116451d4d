"""Sign-in (a password or the organisation's identity provider, then the second factor where there is one or
the role requires one), sign-out, and the invitation link where an invited user chooses their password."""

import time
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse

from app import i18n
from app.deps import EngineDep, SettingsDep
from app.i18n import gettext as _
from app.settings import Settings
from app.users import MIN_PASSWORD, UserInvalid, authenticate, oidc, users_exist
from app.users.audit import Actor
from app.users.directory import sign_in_step
from app.users.invites import InviteInvalid, accept_invite, open_invite
from app.users.totp import CodeInvalid, check_second_factor, enrol, new_secret, provisioning_uri, qr_svg
from app.web.csrf import require_csrf
from app.web.forms import FRESH, Credentials, FormState, refused
from app.web.session import sign_in, sign_out
from app.web.templating import render, render_form

router = APIRouter(include_in_schema=False, dependencies=[Depends(require_csrf)])

PENDING_SECONDS = 300  # between the password and the second factor


class SignInForm(Credentials):
    next: str = "/"


def _safe_next(target: str | None) -> str:
    # only a path on this site: an absolute or protocol-relative URL would make an open redirect
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _oidc_name(settings: Settings) -> str | None:
    """The identity provider's name for the sign-in button, when one is set up."""
    return oidc.provider_name(settings) if oidc.configured(settings) else None


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, engine: EngineDep, settings: SettingsDep, next: str | None = None) -> HTMLResponse:
    # with no user yet, the page says how to make the first one
    ctx = {
        "next": _safe_next(next),
        "email": "",
        "first_run": not users_exist(engine),
        "oidc_name": _oidc_name(settings),
    }
    return render(request, "login.html", ctx)


async def _after_password(request: Request, engine: EngineDep, user_id: int, email: str, target: str) -> Response:
    """The password (or the identity provider) said who it is: signed in, or on to the second factor (entering
    it, or setting it up)."""
    request.state.actor = Actor("user", user_id, email)  # for the audit log: who signed in
    step = await run_in_threadpool(sign_in_step, engine, user_id)
    if step == "done":
        await sign_in(request, engine, user_id, email)
        return RedirectResponse(target, status_code=303)
    request.session.clear()
    request.session.update(
        pending_uid=user_id, pending_email=email, pending_until=time.time() + PENDING_SECONDS, pending_next=target
    )
    return RedirectResponse("/login/code" if step == "code" else "/login/enrol", status_code=303)


@router.post("/login", response_class=HTMLResponse)
async def login(
    request: Request, engine: EngineDep, settings: SettingsDep, form: Annotated[SignInForm, Form()]
) -> Response:
    email, password = form.email, form.password
    errors = {}
    if not email.strip():
        errors["email"] = _("enter your e-mail address")
    if not password:
        errors["password"] = _("enter your password")
    if not errors:
        result = await run_in_threadpool(authenticate, engine, email, password)
        if result.user_id is not None:
            return await _after_password(request, engine, result.user_id, email.strip(), _safe_next(form.next))
        errors["password"] = result.error or _("sign-in failed")
    first_run = not await run_in_threadpool(users_exist, engine)
    ctx = {
        "next": _safe_next(form.next),
        "email": email,
        "errors": errors,
        "first_run": first_run,
        "oidc_name": _oidc_name(settings),
    }
    return render(request, "login.html", ctx, status_code=400)


def _oidc_refused(request: Request, problem: str, status_code: int = 403) -> HTMLResponse:
    return render(request, "oidc_refused.html", {"problem": problem}, status_code=status_code)


@router.get("/login/oidc", response_class=HTMLResponse)
async def oidc_start(request: Request, settings: SettingsDep, next: str | None = None) -> Response:
    """Off to the identity provider; the sign-in's state, nonce and PKCE verifier wait in the signed session."""
    if not oidc.configured(settings):
        return _oidc_refused(request, _("sign-in through an identity provider is not set up here"), 404)
    try:
        begun = await run_in_threadpool(oidc.start, settings, _safe_next(next))
    except oidc.SignInRefused as exc:
        return _oidc_refused(request, exc.message, 502)
    request.session[oidc.SESSION_KEY] = begun.pending
    return RedirectResponse(begun.url, status_code=303)


@router.get(oidc.CALLBACK_PATH, response_class=HTMLResponse)
async def oidc_callback(request: Request, engine: EngineDep, settings: SettingsDep) -> Response:
    """Back from the identity provider: signed in with the role its claim maps to, or refused."""
    if not oidc.configured(settings):
        return _oidc_refused(request, _("sign-in through an identity provider is not set up here"), 404)
    pending = request.session.pop(oidc.SESSION_KEY, None)  # used once, whatever comes of it
    try:
        done = await run_in_threadpool(oidc.finish, engine, settings, pending, dict(request.query_params))
    except oidc.SignInRefused as exc:
        return _oidc_refused(request, exc.message)
    return await _after_password(request, engine, done.user_id, done.email, _safe_next(done.target))


def _pending(request: Request) -> tuple[int, str] | None:
    uid, until = request.session.get("pending_uid"), request.session.get("pending_until")
    if not isinstance(uid, int) or not isinstance(until, int | float) or until < time.time():
        return None
    return uid, str(request.session.get("pending_email", ""))


def _start_again(request: Request) -> Response:
    request.session.clear()
    request.session["notice"] = _("Sign in again: the time for the second step ran out.")
    return RedirectResponse("/login", status_code=303)


@router.get("/login/code", response_class=HTMLResponse)
def code_page(request: Request) -> Response:
    if _pending(request) is None:
        return _start_again(request)
    return render(request, "login_code.html")


@router.post("/login/code", response_class=HTMLResponse)
async def check_code(
    request: Request, engine: EngineDep, settings: SettingsDep, code: Annotated[str, Form()] = ""
) -> Response:
    pending = _pending(request)
    if pending is None:
        return _start_again(request)
    try:
        await run_in_threadpool(check_second_factor, engine, settings, pending[0], code)
    except CodeInvalid as exc:
        return render_form(request, "login_code.html", {}, refused({"code": str(exc)}))
    target = _safe_next(request.session.get("pending_next"))
    await sign_in(request, engine, pending[0], pending[1])
    return RedirectResponse(target, status_code=303)


def enrol_page(request: Request, email: str, action: str, form: FormState = FRESH) -> HTMLResponse:
    """The QR code of a new secret (kept in the signed cookie until confirmed) and the field for the first code."""
    secret = request.session.get("enrol_secret")
    if not isinstance(secret, str):
        secret = request.session["enrol_secret"] = new_secret()
    ctx = {"qr": qr_svg(provisioning_uri(secret, email)), "secret": secret, "action": action}
    response = render_form(request, "two_factor_enrol.html", ctx, form)
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/login/enrol", response_class=HTMLResponse)
def enrol_at_sign_in_page(request: Request) -> Response:
    pending = _pending(request)
    if pending is None:
        return _start_again(request)
    return enrol_page(request, pending[1], "/login/enrol")


@router.post("/login/enrol", response_class=HTMLResponse)
async def enrol_at_sign_in(
    request: Request, engine: EngineDep, settings: SettingsDep, code: Annotated[str, Form()] = ""
) -> Response:
    pending = _pending(request)
    secret = request.session.get("enrol_secret")
    if pending is None or not isinstance(secret, str):
        return _start_again(request)
    try:
        codes = await run_in_threadpool(enrol, engine, settings, pending[0], secret, code)
    except CodeInvalid as exc:
        return enrol_page(request, pending[1], "/login/enrol", refused({"code": str(exc)}))
    target = _safe_next(request.session.get("pending_next"))
    await sign_in(request, engine, pending[0], pending[1])
    return recovery_codes_page(request, codes, target)


def recovery_codes_page(request: Request, codes: list[str], target: str) -> HTMLResponse:
    response = render(request, "recovery_codes.html", {"codes": codes, "next": target})
    response.headers["Cache-Control"] = "no-store"  # shown once: not kept by a cache either
    return response


@router.post("/logout")
async def logout(request: Request, engine: EngineDep) -> RedirectResponse:
    await sign_out(request, engine)
    return RedirectResponse("/login", status_code=303)


@router.get("/invite/{token}", response_class=HTMLResponse)
def invite_page(request: Request, engine: EngineDep, token: str) -> HTMLResponse:
    try:
        invite = open_invite(engine, token)
    except InviteInvalid as exc:
        return render(request, "invite_invalid.html", {"problem": str(exc)}, status_code=410)
    i18n.use(invite.language)
    ctx = {"email": invite.email, "role": invite.role, "token": token, "min_password": MIN_PASSWORD}
    return render(request, "invite.html", ctx)


class InviteForm(Credentials):
    password_again: str = ""


@router.post("/invite/{token}", response_class=HTMLResponse)
async def accept(request: Request, engine: EngineDep, token: str, form: Annotated[InviteForm, Form()]) -> Response:
    try:
        invite = await run_in_threadpool(open_invite, engine, token)
    except InviteInvalid as exc:
        return render(request, "invite_invalid.html", {"problem": str(exc)}, status_code=410)
    i18n.use(invite.language)
    errors: dict[str, str] = {}
    if form.password != form.password_again:
        errors["password_again"] = _("the two passwords differ")
    else:
        try:
            user = await run_in_threadpool(accept_invite, engine, token, form.password)
        except InviteInvalid as exc:
            return render(request, "invite_invalid.html", {"problem": str(exc)}, status_code=410)
        except UserInvalid as exc:
            errors[exc.field] = exc.detail
    if errors:
        ctx = {
            "email": invite.email,
            "role": invite.role,
            "token": token,
            "min_password": MIN_PASSWORD,
            "errors": errors,
        }
        return render(request, "invite.html", ctx, status_code=400)
    assert user.id is not None  # stored by accept_invite
    return await _after_password(request, engine, user.id, user.email, "/")

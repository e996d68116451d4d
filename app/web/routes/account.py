"""The signed-in user's own account: set up (or renew) the second factor; every role may."""

from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse

from app import i18n
from app.deps import EngineDep, SessionDep, SettingsDep
from app.i18n import gettext as _
from app.sending.schedule import zone_names
from app.users.accounts import UserInvalid, set_language, set_time_zone
from app.users.totp import CodeInvalid, enrol, recovery_codes_left
from app.web.deps import UserDep
from app.web.forms import refused
from app.web.routes.auth import enrol_page, recovery_codes_page
from app.web.templating import render

router = APIRouter()


@router.get("/account", response_class=HTMLResponse)
def account_page(request: Request, user: UserDep, session: SessionDep) -> HTMLResponse:
    assert user.id is not None
    left = recovery_codes_left(session, user.id) if user.totp_secret else 0
    return render(request, "account.html", {"user": user, "codes_left": left, **_choices()})


def _choices() -> dict[str, object]:
    return {"languages": i18n.LANGUAGES, "zones": [(z, z) for z in zone_names()]}


@router.post("/account/language", response_class=HTMLResponse)
def choose_language(
    request: Request,
    user: UserDep,
    session: SessionDep,
    settings: SettingsDep,
    language: Annotated[str, Form()] = "",
) -> Response:
    assert user.id is not None
    try:
        set_language(session, user.id, language)
    except UserInvalid:
        errors = {"language": _("Choose one of the languages offered.")}
        context = {"user": user, "codes_left": 0, **_choices(), "errors": errors}
        return render(request, "account.html", context, 400)
    session.commit()
    i18n.use(language or i18n.from_accept_language(request.headers.get("accept-language")) or settings.default_language)
    request.state.audit_object = ("user", user.id)
    request.state.audit_detail = {"language": language or "browser"}
    request.session["notice"] = _("Language saved.")
    return RedirectResponse("/account", 303)


@router.post("/account/time-zone", response_class=HTMLResponse)
def choose_time_zone(
    request: Request, user: UserDep, session: SessionDep, time_zone: Annotated[str, Form()] = ""
) -> Response:
    assert user.id is not None
    try:
        set_time_zone(session, user.id, time_zone.strip())
    except UserInvalid as exc:
        context = {"user": user, "codes_left": 0, **_choices(), "errors": {"time_zone": str(exc)}}
        return render(request, "account.html", context, 400)
    session.commit()
    request.state.audit_object = ("user", user.id)
    request.session["notice"] = _("Time zone saved.")
    return RedirectResponse("/account", 303)


@router.get("/account/two-factor", response_class=HTMLResponse)
def two_factor_page(request: Request, user: UserDep) -> HTMLResponse:
    return enrol_page(request, user.email, "/account/two-factor")


@router.post("/account/two-factor", response_class=HTMLResponse)
async def set_up_two_factor(
    request: Request, user: UserDep, engine: EngineDep, settings: SettingsDep, code: Annotated[str, Form()] = ""
) -> Response:
    secret = request.session.get("enrol_secret")
    if not isinstance(secret, str):
        return enrol_page(
            request,
            user.email,
            "/account/two-factor",
            refused({"code": _("the page was out of date: scan the new code")}),
        )
    assert user.id is not None
    try:
        codes = await run_in_threadpool(enrol, engine, settings, user.id, secret, code)
    except CodeInvalid as exc:
        return enrol_page(request, user.email, "/account/two-factor", refused({"code": str(exc)}))
    request.session.pop("enrol_secret", None)
    request.state.audit_object = ("user", user.id)
    return recovery_codes_page(request, codes, "/account")

"""Jinja2 for the web pages (templates/web), with the helpers every page uses."""

from datetime import datetime
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader

from app import i18n
from app.audience.reasons import reason_label
from app.i18n.formats import number, percent, when
from app.i18n.labels import label
from app.paths import TEMPLATES
from app.sending import schedule
from app.sending.guards import paused_reason
from app.users.roles import may_administer, may_write
from app.web.csrf import csrf_token
from app.web.forms import FormState

templates = Jinja2Templates(
    env=Environment(loader=FileSystemLoader(TEMPLATES / "web"), autoescape=True, extensions=["jinja2.ext.i18n"])
)
# Newstyle: the template's _() fills the placeholders itself (escaping them), so it gets the unformatted text.
templates.env.install_gettext_callables(i18n.translate, i18n.translate_plural, newstyle=True)  # type: ignore[attr-defined]  # added by the i18n extension
templates.env.globals["language"] = i18n.current


def _when(value: datetime | None) -> str:
    return "" if value is None else when(value)


def _number(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else number(value, digits)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    seconds = int(seconds)
    if seconds < 60:
        return i18n.gettext("%(s)d s", s=seconds)
    if seconds < 3600:
        return i18n.gettext("%(min)d min %(s)d s", min=seconds // 60, s=seconds % 60)
    return i18n.gettext("%(h)d h %(min)d min", h=seconds // 3600, min=seconds % 3600 // 60)


templates.env.filters["when"] = _when
templates.env.filters["duration"] = _duration
templates.env.filters["num"] = _number
templates.env.filters["percent"] = percent
templates.env.filters["label"] = label
templates.env.filters["reason"] = reason_label
templates.env.filters["paused_reason"] = paused_reason
templates.env.filters["zoned"] = schedule.shown


def render(request: Request, name: str, context: dict[str, Any] | None = None, status_code: int = 200) -> HTMLResponse:
    """A page with the signed-in user (and what their role may do), the CSRF token and any one-time notice."""
    user = getattr(request.state, "user", None)
    ctx = {
        "user_email": user.email if user is not None else None,
        "user_role": user.role if user is not None else None,
        "can_edit": user is not None and may_write(user.role),
        "is_admin": user is not None and may_administer(user.role),
        "time_zone": user.time_zone if user is not None else None,  # schedule times are shown in it
        "csrf_token": csrf_token(request),
        "notice": request.session.pop("notice", None),
        "errors": {},
        **(context or {}),
    }
    return templates.TemplateResponse(request, name, ctx, status_code=status_code)


def render_form(request: Request, name: str, context: dict[str, Any], form: FormState) -> HTMLResponse:
    """A page with a form that may come back: FORM's problems (`errors`) and what was typed (`values`)
    beside the page's own CONTEXT, with the form's status."""
    return render(request, name, {**context, "errors": form.errors, "values": form.values}, form.status_code)


def confirm(request: Request, title: str, text: str, button: str, action: str, back: str) -> HTMLResponse:
    """The page that asks before what cannot be undone: BUTTON posts to ACTION, "Keep it" goes BACK."""
    ctx = {"title": title, "text": text, "button": button, "action": action, "back": back}
    return render(request, "confirm.html", ctx)

"""Jinja2 for the web pages (templates/web), with the helpers every page uses."""

from datetime import datetime
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader

from app.audience.reasons import reason_label
from app.i18n import gettext, ngettext
from app.paths import TEMPLATES
from app.users.roles import may_administer, may_write
from app.web.csrf import csrf_token

templates = Jinja2Templates(
    env=Environment(loader=FileSystemLoader(TEMPLATES / "web"), autoescape=True, extensions=["jinja2.ext.i18n"])
)
# Pages mark their text with _() now; the catalogue that translates it is installed per request language.
templates.env.install_gettext_callables(gettext, ngettext, newstyle=True)  # type: ignore[attr-defined]  # added by the i18n extension


def _when(value: datetime | None) -> str:
    return "" if value is None else f"{value:%Y-%m-%d %H:%M} UTC"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


templates.env.filters["when"] = _when
templates.env.filters["duration"] = _duration
templates.env.filters["reason"] = reason_label


def render(request: Request, name: str, context: dict[str, Any] | None = None, status_code: int = 200) -> HTMLResponse:
    """A page with the signed-in user (and what their role may do), the CSRF token and any one-time notice."""
    user = getattr(request.state, "user", None)
    ctx = {
        "user_email": user.email if user is not None else None,
        "user_role": user.role if user is not None else None,
        "can_edit": user is not None and may_write(user.role),
        "is_admin": user is not None and may_administer(user.role),
        "csrf_token": csrf_token(request),
        "notice": request.session.pop("notice", None),
        "errors": {},
        **(context or {}),
    }
    return templates.TemplateResponse(request, name, ctx, status_code=status_code)

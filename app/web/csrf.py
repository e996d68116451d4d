"""CSRF protection: a per-session token in a hidden field of every form (or the X-CSRF-Token
header for scripts), checked on every state-changing request of the web pages."""

import hmac
import secrets

from fastapi import HTTPException, Request

from app.i18n import gettext as _

FIELD = "csrf_token"
HEADER = "x-csrf-token"


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = secrets.token_urlsafe(32)
    return token


def check_token(request: Request, sent: str | None) -> None:
    expected = request.session.get("csrf")
    if not expected or not sent or not hmac.compare_digest(expected, sent):
        raise HTTPException(
            403, _("the form was refused: its security token is missing or out of date; reload the page")
        )


async def require_csrf(request: Request) -> None:
    """Dependency for POST routes with an urlencoded or small multipart body."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    sent = request.headers.get(HEADER)
    if sent is None:
        form = await request.form()  # starlette keeps the parsed form for the route to read again
        value = form.get(FIELD)
        sent = value if isinstance(value, str) else None
    check_token(request, sent)

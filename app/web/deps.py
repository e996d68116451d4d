"""Dependencies of the web pages: the signed-in user (else a redirect to sign-in), their role, and CSRF."""

from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, HTTPException, Request

from app import i18n
from app.deps import EngineDep
from app.models import User
from app.users.audit import Actor
from app.users.roles import Forbidden, check_administer, check_write
from app.users.sessions import session_user
from app.web.csrf import require_csrf

SESSION_KEY = "sid"


def current_user(request: Request, engine: EngineDep) -> User:
    """The user of this browser's session: the session is looked up in the store on every request, so a
    signed-out or deactivated user's browser is sent to sign-in at once."""
    user = session_user(engine, request.session.get(SESSION_KEY))
    if user is None:
        request.session.pop(SESSION_KEY, None)
        request.session.pop("email", None)
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        # a 303 with Location is a redirect to the browser; no exception handler needed
        raise HTTPException(303, "sign in first", headers={"Location": f"/login?next={quote(target, safe='')}"})
    request.state.user = user
    i18n.use(user.language)  # unset: the browser's language, as the request began
    request.state.actor = Actor("user", user.id, user.email)
    return user


def may_change(request: Request, user: Annotated[User, Depends(current_user)]) -> None:
    """Pages of lists, contacts, campaigns, bounces and suppressions: every role reads, a viewer changes nothing."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    try:
        check_write(user.role)
    except Forbidden as exc:
        raise HTTPException(403, str(exc)) from None


def may_open_editor(user: Annotated[User, Depends(current_user)]) -> None:
    """A page that is only a form for a change (compose, confirm a deletion, the import preview): not for a
    role that may not change anything."""
    try:
        check_write(user.role)
    except Forbidden as exc:
        raise HTTPException(403, str(exc)) from None


def may_administer(user: Annotated[User, Depends(current_user)]) -> None:
    """Settings, users, API keys, audit log: administrators only, reading included."""
    try:
        check_administer(user.role)
    except Forbidden as exc:
        raise HTTPException(403, str(exc)) from None


EDITING = [Depends(may_open_editor)]
UserDep = Annotated[User, Depends(current_user)]
# The user first (an expired session redirects before CSRF complains), then the role (a refusal names the
# role, whatever the form carried), then CSRF.
SIGNED_IN = [Depends(current_user), Depends(require_csrf)]
MARKETING = [Depends(current_user), Depends(may_change), Depends(require_csrf)]
ADMINISTRATION = [Depends(current_user), Depends(may_administer), Depends(require_csrf)]

"""The signed session cookie (starlette's SessionMiddleware), keyed from the service's secret key.

The key is only known once the database is reachable (it may be generated and kept there), so the
middleware is built on the first request rather than when the app is created."""

import hashlib
import hmac

from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from app.secret_key import get_secret_key
from app.settings import Settings
from app.users.audit import Actor
from app.users.sessions import end_session, open_session, session_user

COOKIE = "bulkmail_session"
MAX_AGE_SECONDS = 12 * 60 * 60
# not the web pages: no cookie, and no database read for the key (/healthz must answer when the database is down)
SESSIONLESS = ("/api/", "/healthz", "/u/", "/static/", "/docs", "/redoc", "/openapi.json")


class LazySessionMiddleware:
    def __init__(self, app: ASGIApp, settings: Settings, engine: Engine) -> None:
        self.app, self.settings, self.engine = app, settings, engine
        self._inner: SessionMiddleware | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or scope["path"].startswith(SESSIONLESS):
            await self.app(scope, receive, send)
            return
        if self._inner is None:
            secret = await run_in_threadpool(get_secret_key, self.settings, self.engine)
            # a key of its own: a leaked session key must not forge unsubscribe or VERP tokens
            key = hmac.new(secret, b"bulkmail web session", hashlib.sha256).hexdigest()
            self._inner = SessionMiddleware(
                self.app,
                secret_key=key,
                session_cookie=COOKIE,
                max_age=MAX_AGE_SECONDS,
                same_site="lax",
                https_only=self.settings.base_url.startswith("https://"),
            )
        await self._inner(scope, receive, send)


async def sign_in(request: Request, engine: Engine, user_id: int, email: str, **more: str) -> None:
    """A fresh session for the user, in the session store: nothing from before sign-in (a planted cookie)
    carries over."""
    token = await run_in_threadpool(open_session, engine, user_id)
    request.session.clear()
    request.session.update(sid=token, email=email, **more)
    request.state.actor = Actor("user", user_id, email)


async def sign_out(request: Request, engine: Engine) -> None:
    """End this browser's session in the store (a copy of the cookie is worth nothing after it)."""
    token = request.session.get("sid")
    user = await run_in_threadpool(session_user, engine, token)
    if user is not None:
        request.state.actor = Actor("user", user.id, user.email)
    await run_in_threadpool(end_session, engine, token)
    request.session.clear()

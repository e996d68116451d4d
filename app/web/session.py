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


def sign_in(request: Request, user_id: int, email: str, **more: str) -> None:
    """A fresh session for the user: nothing from before sign-in (a planted cookie) carries over."""
    request.session.clear()
    request.session.update(uid=user_id, email=email, **more)

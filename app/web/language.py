"""Every request starts in the browser's language (Accept-Language, else the installation's); the signed-in user's own
choice (app.web.deps.current_user) or a subscriber page's contact (app.unsubscribe) then takes over."""

from starlette.types import ASGIApp, Receive, Scope, Send

from app import i18n


class LanguageMiddleware:
    def __init__(self, app: ASGIApp, default: str = i18n.DEFAULT) -> None:
        self.app = app
        self.default = default  # the installation's language (BULKMAIL_DEFAULT_LANGUAGE)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            header = next((v for k, v in scope["headers"] if k == b"accept-language"), b"")
            # the API answers programs: its texts stay English whatever the client's language
            api = scope["path"].startswith("/api/")
            if api:
                i18n.begin(None)
            else:
                i18n.begin(i18n.from_accept_language(header.decode("latin-1")), self.default)
        await self.app(scope, receive, send)

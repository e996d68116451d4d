"""The hit routes, `/t/o/TOKEN` (the open pixel) and `/t/c/TOKEN` (a click), answered by the service's
application before anything else (app.main.Service): no FastAPI or Starlette wrapper, no middleware, no
session, no page machinery and no database on the way (a campaign's links are read once and kept), so a
burst of hits costs little more than checking each token's mac. The hit goes to the recorder's queue. A
click goes only to the link its signed token names; anything else gets a 404 page."""

import asyncio
import base64
import html
import logging
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session
from starlette.types import Receive, Scope, Send

from app import i18n
from app.i18n import gettext as _
from app.secret_key import get_secret_key
from app.settings import Settings
from app.tracking import links, tokens
from app.tracking.recorder import Recorder

PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")  # 1x1 transparent GIF
_NO_STORE = (b"cache-control", b"no-store, private")
MAX_TOKEN = 80


PATHS = ("/t/o/", "/t/c/")


class _AccessLog(logging.Logger):
    """uvicorn's access logger, which drops a hit's line before a record of it is even made."""

    def info(self, msg: object, *args: object, **kwargs: Any) -> None:
        if len(args) > 2 and isinstance(args[2], str) and args[2].startswith(PATHS):
            return
        super().info(msg, *args, **kwargs)


def quiet_access_log() -> None:
    """The web server's access log leaves the hits out: a line per hit would cost the burst a third of its
    speed, and would keep every reader's address and token, which anonymous tracking promises not to."""
    access = logging.getLogger("uvicorn.access")
    if type(access) is logging.Logger:
        access.__class__ = _AccessLog


class LinkTable:
    """Each launched campaign's links, read from the database once per process (they never change)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._known: dict[int, dict[int, str]] = {}

    async def url(self, campaign_id: int, position: int) -> str | None:
        table = self._known.get(campaign_id)
        if table is None:
            table = await asyncio.to_thread(self._load, campaign_id)
        return table.get(position)

    def _load(self, campaign_id: int) -> dict[int, str]:
        with Session(self.engine) as session:
            table = links.table(session, campaign_id)
        if table:  # a campaign not launched yet may get its links later
            self._known[campaign_id] = table
        return table


class HitRoutes:
    """The ASGI handler of a request whose path starts with one of PATHS."""

    def __init__(self, recorder: Recorder, settings: Settings, engine: Engine) -> None:
        self.recorder, self.settings, self.engine = recorder, settings, engine
        self.secret: bytes | None = None
        self.links = LinkTable(engine)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"]
        if self.secret is None:
            self.secret = await asyncio.to_thread(get_secret_key, self.settings, self.engine)
        method = scope["method"]
        token = path[5:]
        hit = tokens.parse(self.secret, token) if len(token) <= MAX_TOKEN and method in ("GET", "HEAD") else None
        is_open = path[3] == "o"
        if hit is None or (hit.link == 0) != is_open:
            await _unknown(scope, send)
            return
        target = None if is_open else await self.links.url(hit.campaign_id, hit.link)
        if not is_open and target is None:
            await _unknown(scope, send)
            return
        user_agent = next((v for k, v in scope["headers"] if k == b"user-agent"), b"").decode("latin-1")
        client = scope.get("client")
        self.recorder.add(hit, user_agent, client[0] if client else None, method)
        if is_open:
            await _answer(send, 200, [(b"content-type", b"image/gif"), _NO_STORE], PIXEL)
        else:
            assert target is not None
            await _answer(send, 302, [(b"location", target.encode()), _NO_STORE], b"")


async def _answer(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _unknown(scope: Scope, send: Send) -> None:
    header = next((v for k, v in scope["headers"] if k == b"accept-language"), b"")
    with i18n.speaking(i18n.from_accept_language(header.decode("latin-1"))):
        title = html.escape(_("Link not found"))
        text = html.escape(_("This link is not one of ours, or it was changed on its way. Nothing was opened."))
        lang = i18n.current()
    page = (
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8"><title>{title}</title></head>'
        f"<body><h1>{title}</h1><p>{text}</p></body></html>"
    ).encode()
    await _answer(send, 404, [(b"content-type", b"text/html; charset=utf-8"), _NO_STORE], page)

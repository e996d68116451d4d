"""Transactional sends go ahead of the campaigns' writes: on SQLite (one write transaction at a time) a
`POST /api/v1/messages` holds app.db.priority_writes from its first write (the Idempotency-Key record) to its
last (the audit entry), so the sending workers start no batch transaction meanwhile, and its transactions wait
for at most the one batch transaction under way rather than one each."""

from sqlalchemy import Engine
from starlette.types import ASGIApp, Receive, Scope, Send

from app.db import priority_writes

PRIORITY_PATHS = ("/api/v1/messages",)


class PriorityRequests:
    def __init__(self, app: ASGIApp, engine: Engine) -> None:
        self.app, self.engine = app, engine

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"].rstrip("/") not in PRIORITY_PATHS:
            await self.app(scope, receive, send)
            return
        with priority_writes(self.engine):
            await self.app(scope, receive, send)

"""Request size limit and per-API-key rate limit for /api/v1, as one ASGI middleware.

Rate limit: a token bucket per key (app/rate_limit.py). Over the limit: 429 with Retry-After.
Concurrency on SQLite: at most SQLITE_CONCURRENT API requests run at once, the rest wait without a
thread. Every SQLite transaction takes the one write lock, so more at once gains nothing; and with more
requests than the thread pool has threads, those waiting for the lock can hold every thread while the
holder needs one to finish (a stall until the busy timeout). Size: JSON bodies above
`api_max_body_bytes` get 413; file uploads (multipart) have their own limit, `max_upload_bytes`,
enforced by the import endpoint."""

import asyncio
import math

from fastapi import HTTPException
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.errors import problem_response
from app.apikeys import bearer_key_id
from app.db import is_sqlite
from app.rate_limit import MemoryBuckets, TableBuckets, buckets_for
from app.settings import Settings

API_PREFIX = "/api/v1"
SQLITE_CONCURRENT = 8


class BodyTooLarge(HTTPException):
    """An HTTPException, so FastAPI answers it as a 413 problem when a route is reading the body."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than the limit of {limit} bytes")


class ApiLimits:
    def __init__(self, app: ASGIApp, settings: Settings, engine: Engine) -> None:
        self.app, self.engine = app, engine
        self.max_body = settings.api_max_body_bytes
        self.buckets: MemoryBuckets | TableBuckets | None = None
        if settings.api_rate_per_second > 0:
            rate, burst = settings.api_rate_per_second, max(1, settings.api_rate_burst)
            self.buckets = buckets_for(engine, rate, burst)
        self.gate = asyncio.Semaphore(SQLITE_CONCURRENT) if is_sqlite(engine) else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(API_PREFIX):
            await self.app(scope, receive, send)
            return
        if (
            self.gate is None
            or scope["method"] == "POST"
            and b"multipart/" in dict(scope["headers"]).get(b"content-type", b"")
        ):  # an upload spends its time receiving, not in the database
            await self._limited(scope, receive, send)
            return
        async with self.gate:
            await self._limited(scope, receive, send)

    async def _limited(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope)
        if self.buckets is not None:
            key_id = await run_in_threadpool(bearer_key_id, self.engine, request.headers.get("authorization", ""))
            if key_id is not None:
                wait = await run_in_threadpool(self.buckets.take, key_id)
                if wait > 0:
                    retry = str(max(1, math.ceil(wait)))
                    response = problem_response(
                        request, 429, f"rate limit exceeded; retry in {retry} s", headers={"Retry-After": retry}
                    )
                    await response(scope, receive, send)
                    return
        if request.headers.get("content-type", "").startswith("multipart/"):
            await self.app(scope, receive, send)
            return
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_body:
            await self._too_large(request, scope, receive, send)
            return
        await self._counted(scope, receive, send)

    async def _counted(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A body without (or with a false) Content-Length is counted as it arrives."""
        seen = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body:
                    raise BodyTooLarge(self.max_body)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:  # raised outside a route (a middleware read the body): answer it here
            if started:
                raise
            await self._too_large(Request(scope), scope, receive, send)

    async def _too_large(self, request: Request, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem_response(request, 413, f"the request body is larger than the limit of {self.max_body} bytes")
        await response(scope, receive, send)

"""`Idempotency-Key` on every POST under /api/v1: a retried request gets the first response back.

The first request with a key stores (API key, key, method, path, hash of the request) before it runs,
then its response. The same key again: the stored response, with `Idempotent-Replayed: true`; with a
different request: 422; while the first is still running: 409. Responses of 5xx are not kept, so a
retry after a server error runs again. Records live 24 hours. A file upload is identified by its
size and type rather than its bytes (hashing a 200 MB upload before importing it costs too much)."""

import hashlib
import logging

from sqlalchemy import Engine
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.errors import field_error, problem_response
from app.apikeys import bearer_key_id
from app.idempotency import begin, finish, forget

log = logging.getLogger(__name__)

HEADER = "idempotency-key"
MAX_KEY = 255


class Idempotency:
    def __init__(self, app: ASGIApp, engine: Engine) -> None:
        self.app, self.engine = app, engine

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or not scope["path"].startswith("/api/v1/"):
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        key = request.headers.get(HEADER)
        if key is None:
            await self.app(scope, receive, send)
            return
        if not key.strip() or len(key) > MAX_KEY:
            errors = [field_error(["header", "Idempotency-Key"], f"must be 1 to {MAX_KEY} characters")]
            await problem_response(request, 400, "bad Idempotency-Key header", errors)(scope, receive, send)
            return
        key_id = await run_in_threadpool(bearer_key_id, self.engine, request.headers.get("authorization", ""))
        if key_id is None:  # no valid key: the auth dependency answers 401
            await self.app(scope, receive, send)
            return
        digest, receive = await _request_hash(request, scope, receive)
        begun = await run_in_threadpool(begin, self.engine, key_id, key, "POST", scope["path"], digest)
        if begun.replay is not None:
            r = begun.replay
            headers = {"Idempotent-Replayed": "true"}
            body = (r.body or "").encode()
            response = Response(body, status_code=r.status_code or 200, headers=headers, media_type=r.content_type)
            await response(scope, receive, send)
            return
        if begun.conflict == "mismatch":
            errors = [field_error(["header", "Idempotency-Key"], "already used for a different request")]
            title = "this Idempotency-Key was used with another request; use a new key"
            await problem_response(request, 422, title, errors)(scope, receive, send)
            return
        if begun.conflict == "running":
            title = "a request with this Idempotency-Key is still running; retry later"
            await problem_response(request, 409, title, headers={"Retry-After": "1"})(scope, receive, send)
            return
        assert begun.record_id is not None
        await self._run(begun.record_id, scope, receive, send)

    async def _run(self, record_id: int, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the request; its response is stored and committed before any of it is sent, so a retry
        sent the moment the answer arrives finds it (not "still running")."""
        status = 500
        content_type: str | None = None
        held: list[Message] = []  # the response, until it is stored
        stored = False

        async def store_then_send(message: Message) -> None:
            nonlocal status, content_type, stored
            if stored:
                await send(message)  # nothing more is kept once the body is complete
                return
            held.append(message)
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = {k.decode().lower(): v.decode() for k, v in message.get("headers", [])}
                content_type = headers.get("content-type")
            elif message["type"] == "http.response.body" and not message.get("more_body", False):
                body = b"".join(m.get("body", b"") for m in held if m["type"] == "http.response.body")
                session = scope.get("state", {}).get("session")  # the request's own (app.deps.get_session)
                await run_in_threadpool(_keep, self.engine, record_id, status, content_type, body, session)
                stored = True
                for m in held:
                    await send(m)
                held.clear()

        try:
            await self.app(scope, receive, store_then_send)
        except BaseException:
            if not stored:
                await run_in_threadpool(forget, self.engine, record_id)
            raise
        if not stored:  # the app ended without a complete response: nothing to replay
            await run_in_threadpool(forget, self.engine, record_id)


def _keep(
    engine: Engine, record_id: int, status: int, content_type: str | None, body: bytes, session: Session | None
) -> None:
    """Store the response. The request's session ends first (FastAPI would close it only after sending):
    on SQLite storing needs the write lock that the session may still hold. If the database refuses, the
    client still gets its answer, and a retry gets 409 rather than running the request twice."""
    if session is not None:
        session.close()
    try:
        finish(engine, record_id, status, content_type, body)
    except Exception:
        log.exception("could not store the response of idempotency record %s", record_id)


async def _request_hash(request: Request, scope: Scope, receive: Receive) -> tuple[str, Receive]:
    """The request's hash, and a receive that hands the app the body again."""
    h = hashlib.sha256()
    h.update(scope.get("query_string", b"") + b"\0" + request.headers.get("content-type", "").encode() + b"\0")
    if request.headers.get("content-type", "").startswith("multipart/"):
        h.update(request.headers.get("content-length", "").encode())
        return h.hexdigest(), receive
    body = await request.body()  # bounded by ApiLimits, which runs first
    h.update(body)
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return h.hexdigest(), replay

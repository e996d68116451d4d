"""The audit log: every state-changing action, with who did it (a user or an API key), when, what and on
which object.

One writer (`record`) and two callers: `AuditMiddleware`, at the boundary every change of the service passes
through (a web form post or an API write), and `app.cli_audit.audited` for the `bulkmail` command's changes;
the middleware records after the action succeeded and before the answer leaves, so a
client that saw the answer finds the row. What it records comes from the route (its method and path template,
e.g. `POST /lists/{list_id}/rename` -> `lists.rename` on list 7), never from the request body, so no
password, key or token can end up in it. A handler may add a hint the route cannot show
(`request.state.audit_object` for a new object that has no URL, `request.state.audit_detail` for a
chosen value such as a role) or mark a post that changes nothing (`request.state.audit_skip`)."""

import json
import logging
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.db import is_postgresql
from app.keyset import after_id
from app.models import AuditEntry, utcnow
from app.models.types import EMAIL_LENGTH, NAME_LENGTH

log = logging.getLogger("bulkmail.audit")

_READS = frozenset({"GET", "HEAD", "OPTIONS"})
# subscriber-facing pages: their record is the consent ledger, not the marketers' audit log
_NOT_AUDITED = ("/u/", "/p/", "/s/", "/static/", "/healthz")
_WORD = re.compile(r"^[a-z][a-z_-]{0,19}$")  # a path value shown in an action name: a verb, never a token
_SAVES = frozenset({"/settings"})  # a post that saves one thing, not a collection's new member
_LOCATION_OBJECT = re.compile(r"^(?:/api/v1)?/([a-z][a-z_-]*)/(\d+)(?:[/?#]|$)")


@dataclass(frozen=True)
class Actor:
    kind: str  # user | api_key | anonymous | cli (app/cli_audit.py)
    id: int | None
    label: str  # the user's address, the key's prefix


ANONYMOUS = Actor("anonymous", None, "")


def record(
    engine: Engine,
    actor: Actor,
    action: str,
    route: str,
    object_type: str | None = None,
    object_id: str | None = None,
    status: int = 0,
    detail: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> None:
    """Write one audit row: one INSERT, committed by itself (on PostgreSQL in autocommit, a single round trip)."""
    row = {
        "at": at or utcnow(),
        "actor_kind": actor.kind,
        "actor_id": actor.id,
        "actor": actor.label[:EMAIL_LENGTH],
        "action": action[:NAME_LENGTH],
        "route": route[:NAME_LENGTH],
        "object_type": object_type[:50] if object_type else None,
        "object_id": object_id[:50] if object_id else None,
        "status": status,
        "detail": detail or None,
    }
    if is_postgresql(engine):
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(insert(AuditEntry), row)
        return
    with engine.begin() as conn:
        conn.execute(insert(AuditEntry), row)


def entries_newest_first(cursor: str | None) -> Any:
    return after_id(select(AuditEntry), AuditEntry.id, cursor, descending=True)


def _singular(noun: str) -> str:
    noun = noun.replace("-", "_")
    return noun[:-1] if noun.endswith("s") and not noun.endswith("ss") else noun


@dataclass(frozen=True)
class Described:
    action: str
    object_type: str | None
    object_id: str | None


def describe(method: str, template: str, params: dict[str, Any], location: str | None) -> Described:
    """What a successful request to the route did, from its method, path template and path values (and the
    Location of a created object)."""
    path = template.removeprefix("/api/v1")
    words: list[str] = []
    object_type = object_id = None
    for segment in [s for s in path.split("/") if s]:
        if segment.startswith("{") and segment.endswith("}"):
            name = segment[1:-1].split(":")[0]
            value = str(params.get(name, ""))
            if name.endswith("_id"):
                object_type, object_id = name.removesuffix("_id"), value
            elif name != "token" and _WORD.match(value):
                words.append(value)
        else:
            words.append(segment.replace("-", "_").replace(".", "_"))
    last_is_param = path.rstrip("/").endswith("}")
    if method == "POST" and not last_is_param and object_id is None and words:
        if path in _SAVES:
            words.append("save")
        elif words[-1].endswith("s"):  # a post to a collection makes one more
            words.append("create")
    elif method in ("PUT", "PATCH") and last_is_param:
        words.append("update")
    elif method == "DELETE" and last_is_param:
        words.append("delete")
    if object_id is None and location and (m := _LOCATION_OBJECT.match(location)):
        object_type, object_id = _singular(m.group(1)), m.group(2)
    return Described(".".join(words) or "root", object_type, object_id)


def _template(scope: Scope) -> str | None:
    """The matched route's path template with any prefix it was included under (`/api/v1/lists/{list_id}`):
    the request's path with each path value put back as its name. Where a value is not a whole segment, the
    route's own template (never a value, so never a token)."""
    route_path: str | None = getattr(scope.get("route"), "path", None)
    if route_path is None:
        return None
    params: dict[str, Any] = scope.get("path_params") or {}
    pending = [(name, str(value)) for name, value in params.items()]
    segments = scope["path"].split("/")
    for i, segment in enumerate(segments):
        if pending and segment == pending[0][1]:
            segments[i] = "{" + pending.pop(0)[0] + "}"
    template = "/".join(segments)
    return template if not pending and template.endswith(route_path) else route_path


def _created(action: str, headers: dict[str, str], body: bytes) -> tuple[str, str] | None:
    """The id of the object a 201 answer of the API returns (`{"id": 7, ...}`)."""
    if not headers.get("content-type", "").startswith("application/json") or len(body) > 1_000_000:
        return None
    try:
        data = json.loads(body)
    except ValueError:
        return None
    ident = data.get("id") if isinstance(data, dict) else None
    if not isinstance(ident, int | str) or isinstance(ident, bool):
        return None
    return _singular(action.split(".")[0]), str(ident)


class AuditMiddleware:
    """Records each successful state-changing request (status below 400, not an idempotent replay)."""

    def __init__(self, app: ASGIApp, engine: Engine) -> None:
        self.app, self.engine = app, engine

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in _READS or scope["path"].startswith(_NOT_AUDITED):
            await self.app(scope, receive, send)
            return

        # The answer is held until the app is done: the request's own database session (on SQLite, the
        # write lock) is closed by then, the row is written, and only then does the answer leave.
        held: list[Message] = []

        async def hold(message: Message) -> None:
            held.append(message)

        await self.app(scope, receive, hold)
        start = next((m for m in held if m["type"] == "http.response.start"), None)
        if start is not None:
            body = b"".join(m.get("body", b"") for m in held if m["type"] == "http.response.body")
            try:
                await self._record(scope, start, body)
            except SQLAlchemyError:
                # the change is made and committed: its answer still goes out, and the gap is in the log
                # the route's template, not the path: a path may carry a token
                log.exception(
                    "audit: could not record %s %s", scope["method"], getattr(scope.get("route"), "path", "?")
                )
        for message in held:
            await send(message)

    async def _record(self, scope: Scope, message: Message, body: bytes) -> None:
        status = int(message["status"])
        state: dict[str, Any] = scope.get("state") or {}
        template = _template(scope)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in message.get("headers", [])}
        if status >= 400 or template is None or state.get("audit_skip") or headers.get("idempotent-replayed"):
            return
        described = describe(scope["method"], template, scope.get("path_params") or {}, headers.get("location"))
        object_type, object_id = described.object_type, described.object_id
        if object_id is None and status == 201:
            object_type, object_id = _created(described.action, headers, body) or (object_type, object_id)
        if hint := state.get("audit_object"):
            object_type, object_id = hint[0], str(hint[1])
        actor = state.get("actor") or ANONYMOUS
        await run_in_threadpool(
            record,
            self.engine,
            actor,
            described.action,
            f"{scope['method']} {template}",
            object_type,
            object_id,
            status,
            state.get("audit_detail"),
        )

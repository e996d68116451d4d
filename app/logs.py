"""Logging for every bulkmail process: JSON lines for a log collector, or text for a person at a terminal
(`BULKMAIL_LOG_FORMAT=json|text`; by default text when stderr is a terminal, else JSON).

Each line carries the ids of what it is about — the request, the campaign and delivery, the sweep — from
context variables that the code handling them binds (`bound(campaign_id=7)`), so a line written deep inside
a service needs no id passed down to it.

Secrets never reach the output: every secret this process knows (the settings' passwords and keys, what it
unsealed from the database, the API keys it verified, the first-run token) is registered with `keep_out`
and replaced by `***` in the finished line, the traceback of an exception included."""

import json
import logging
import sys
import threading
import uuid
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import IO, Any

from pydantic import SecretStr

REDACTED = "***"
MIN_SECRET_LENGTH = 6  # shorter values would blot out ordinary words; no secret bulkmail keeps is this short
MAX_SECRETS = 10_000  # the API keys a long-running process verified: the oldest are forgotten

HANDLER_NAME = "bulkmail"
IDS = ("request_id", "campaign_id", "delivery_id", "sweep_id")
_ids: dict[str, ContextVar[Any]] = {name: ContextVar(name, default=None) for name in IDS}


@contextmanager
def bound(**ids: Any) -> Iterator[None]:
    """Within the block, every line this thread (or task) logs carries these ids."""
    tokens = [(_ids[name], _ids[name].set(value)) for name, value in ids.items()]
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


def current_ids() -> dict[str, Any]:
    return {name: value for name, var in _ids.items() if (value := var.get()) is not None}


class _Secrets:
    def __init__(self) -> None:
        self._values: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, value: str) -> None:
        # a PEM key is also kept line by line: a line of it alone must not get out either
        parts = [value, *value.splitlines()]
        with self._lock:
            for part in parts:
                part = part.strip()
                if len(part) >= MIN_SECRET_LENGTH and not part.startswith("-----"):
                    self._values[part] = None
                    self._values.move_to_end(part)
            while len(self._values) > MAX_SECRETS:
                self._values.popitem(last=False)

    def scrub(self, text: str) -> str:
        with self._lock:
            values = sorted(self._values, key=len, reverse=True)  # a whole key before any line of it
        for value in values:
            if value in text:
                text = text.replace(value, REDACTED)
        return text


_secrets = _Secrets()


def keep_out(*values: str | SecretStr | None) -> None:
    """These values are replaced by *** wherever they would appear in a log line."""
    for value in values:
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if value:
            _secrets.add(value)


def keep_settings_out(settings: Any) -> None:
    """The secrets of a Settings object (the environment's, or what the settings page saved)."""
    keep_out(
        settings.smtp_password,
        settings.mailbox_password,
        settings.secret_key,
        settings.seal_key,
        settings.metrics_token,
        settings.oidc_client_secret,
    )


class _Ids(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in current_ids().items():
            setattr(record, name, value)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message, the ids that are bound, exc (a traceback)."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in IDS:
            value = getattr(record, name, None)
            if value is not None:
                line[name] = value
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exc"] = record.exc_text
        return _secrets.scrub(json.dumps(line, ensure_ascii=False, default=str))


class TextFormatter(logging.Formatter):
    """What a person reads: time, level, logger, message, then the bound ids in brackets."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        ids = " ".join(f"{name.removesuffix('_id')}={getattr(record, name)}" for name in IDS if hasattr(record, name))
        if ids:
            first, newline, rest = text.partition("\n")
            text = f"{first} [{ids}]{newline}{rest}"
        return _secrets.scrub(text)


class _Stderr(logging.StreamHandler):
    """Writes to whatever sys.stderr is when a line is written (a test runner swaps it)."""

    @property
    def stream(self) -> IO[str]:
        return sys.stderr

    @stream.setter
    def stream(self, _: IO[str]) -> None:
        pass


def chosen_format(setting: str, stream: IO[str]) -> str:
    if setting in ("json", "text"):
        return setting
    isatty = getattr(stream, "isatty", None)
    return "text" if isatty is not None and isatty() else "json"


def configure(settings: Any, stream: IO[str] | None = None, level: int = logging.INFO) -> str:
    """Send every logger's lines (uvicorn's too) to STREAM (stderr) in the chosen format; returns it."""
    form = chosen_format(settings.log_format, stream or sys.stderr)
    handler = logging.StreamHandler(stream) if stream is not None else _Stderr()
    handler.setFormatter(JsonFormatter() if form == "json" else TextFormatter())
    handler.addFilter(_Ids())
    handler.set_name(HANDLER_NAME)
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == HANDLER_NAME]:  # configured again: one handler
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):  # through the root's handler, not their own
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    keep_settings_out(settings)
    return form


REQUEST_ID_HEADER = "x-request-id"
_REQUEST_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:")


def request_id_from(given: str | None) -> str:
    """The id a proxy gave the request (X-Request-ID) when it is a plain token of up to 64 characters, else
    a new one: a line's id must not be a place to inject text into the log."""
    if given and len(given) <= 64 and set(given) <= _REQUEST_ID_CHARS:
        return given
    return uuid.uuid4().hex[:16]


class RequestIds:
    """ASGI middleware: every line logged while a request is handled carries its id, which the response
    returns in X-Request-ID."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        request_id = request_id_from(headers.get(REQUEST_ID_HEADER.encode(), b"").decode("latin-1") or None)

        async def sending(message: Any) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (REQUEST_ID_HEADER.encode(), request_id.encode())]
            await send(message)

        with bound(request_id=request_id):
            await self.app(scope, receive, sending)

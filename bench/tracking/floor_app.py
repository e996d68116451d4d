"""The floor the hit routes are measured against: a bare ASGI app under the same uvicorn that answers every
request with a redirect and does nothing else (no token, no queue, no database)."""

from typing import Any


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 302,
                "headers": [(b"location", b"https://shop.example/1"), (b"content-length", b"0")]})  # fmt: skip
    await send({"type": "http.response.body", "body": b""})

"""The floor the hit routes are measured against: a bare ASGI app under the same uvicorn that answers each
request with the bytes the service would (the pixel for /t/o/, a redirect for anything else) and does nothing
else (no token, no queue, no database)."""

from typing import Any

from app.tracking.routes import PIXEL

_GIF = [
    (b"content-type", b"image/gif"),
    (b"cache-control", b"no-store, private"),
    (b"content-length", str(len(PIXEL)).encode()),
]
_REDIRECT = [(b"location", b"https://shop.example/1"), (b"cache-control", b"no-store, private"),
             (b"content-length", b"0")]  # fmt: skip


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    pixel = scope["path"].startswith("/t/o/")
    await send(
        {"type": "http.response.start", "status": 200 if pixel else 302, "headers": _GIF if pixel else _REDIRECT}
    )
    await send({"type": "http.response.body", "body": PIXEL if pixel else b""})

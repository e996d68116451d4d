"""The signature on every webhook POST.

Header `X-Bulkmail-Signature: t=<unix seconds>,v1=<hex>` where hex is HMAC-SHA256, keyed with the
endpoint's secret, of `<t>.<raw request body>`. A receiver recomputes it over the exact bytes it got,
compares in constant time, and rejects timestamps too far from its clock (replays)."""

import hashlib
import hmac
import secrets

SIGNATURE_HEADER = "X-Bulkmail-Signature"
EVENT_ID_HEADER = "X-Bulkmail-Event-Id"
EVENT_TYPE_HEADER = "X-Bulkmail-Event"


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify(secret: str, header: str, body: bytes, now: int, tolerance: int = 300) -> bool:
    """What a receiver does; used by the tests and shown in the docs."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance:
        return False
    expected = sign(secret, timestamp, body).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))

"""The headers a campaign adds to every message beyond the ones MessageFactory writes: List-Id (RFC 2919),
Feedback-ID (Gmail's feedback loop; DKIM-signed), and the custom headers of the campaign and its identity.

A custom header is checked when it is saved and again when the campaign is composed: its name is a plain
field name (RFC 5322 ftext, no colon), not one the message's identity, routing, signature or unsubscribe
depend on, and its value is one line of printable text (no CR or LF, so nothing can be injected)."""

import re
from collections.abc import Mapping

from app.sending.message import encode_text

FIELD_NAME = re.compile(r"^[!-9;-~]{1,76}$")  # printable ASCII without a colon (RFC 5322 3.6.8)
MAX_HEADERS = 20
MAX_VALUE = 900
# headers the application writes or that identify, route, sign or authenticate the message
RESERVED = frozenset(
    {
        "from", "sender", "to", "cc", "bcc", "reply-to", "subject", "date", "message-id", "in-reply-to",
        "references", "return-path", "received", "mime-version", "content-type", "content-transfer-encoding",
        "dkim-signature", "domainkey-signature", "arc-seal", "arc-message-signature", "arc-authentication-results",
        "authentication-results", "received-spf", "feedback-id", "precedence", "auto-submitted", "resent-from",
        "resent-sender", "resent-to", "resent-date", "resent-message-id", "delivered-to", "errors-to",
    }
)  # fmt: skip
RESERVED_PREFIXES = ("list-", "content-", "x-bulkmail-")


class HeaderRefused(ValueError):
    """A custom header that may not be added; `name` is the header it is about."""

    def __init__(self, name: str, message: str) -> None:
        self.name = name
        super().__init__(message)


def checked_headers(headers: Mapping[str, object]) -> dict[str, str]:
    """The custom headers as they will be written, or HeaderRefused naming the first that may not be."""
    if len(headers) > MAX_HEADERS:
        raise HeaderRefused("", f"at most {MAX_HEADERS} custom headers")
    seen: set[str] = set()
    out: dict[str, str] = {}
    for name, value in headers.items():
        low = name.lower()
        if not FIELD_NAME.match(name):
            raise HeaderRefused(name, f"{name!r} is not a header name (letters, digits and dashes, no colon)")
        if low in RESERVED or low.startswith(RESERVED_PREFIXES):
            raise HeaderRefused(name, f"{name} is set by bulkmail itself and cannot be overridden")
        if low in seen:
            raise HeaderRefused(name, f"{name} is given twice")
        if not isinstance(value, str):
            raise HeaderRefused(name, f"{name}: the value must be text")
        if "\r" in value or "\n" in value:
            raise HeaderRefused(name, f"{name}: the value must be one line (no CR or LF)")
        if not value.strip() or len(value) > MAX_VALUE or any(ord(c) < 32 or ord(c) == 127 for c in value):
            raise HeaderRefused(name, f"{name}: the value must be 1 to {MAX_VALUE} printable characters")
        seen.add(low)
        out[name] = value.strip()
    return out


def list_id(list_id: int, list_name: str, domain: str) -> str:
    """RFC 2919: the list's name as the phrase and a stable identifier under the sending domain."""
    phrase = list_name.replace("\\", "").replace('"', "")
    shown = f'"{phrase}"' if phrase.isascii() else encode_text(phrase)
    return f"List-Id: {shown} <list-{list_id}.{domain}>"


def feedback_id(campaign_id: int | None, list_id: int | None, identity_id: int | None) -> str:
    """Gmail's Feedback-ID, campaign:list:identity:sender, each part stable for the campaign."""
    return f"Feedback-ID: {campaign_id or 0}:{list_id or 0}:{identity_id or 0}:bulkmail"


def header_lines(headers: Mapping[str, str]) -> list[str]:
    return [f"{name}: {encode_text(value)}" for name, value in checked_headers(headers).items()]

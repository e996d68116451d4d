"""What every parser looks at, computed once per message: sender, subject, the human
readable text, the machine readable delivery-status text and the returned original."""

from __future__ import annotations

from .message import Mail, decode_words, html_to_text, parse_headers, split_head_body
from .patterns import IGNORECASE, MULTILINE, lazy

TYPE_CHECKING = False
if TYPE_CHECKING:
    import re

STATUS_TYPES = (
    "message/delivery-status",
    "message/global-delivery-status",
    "text/delivery-status",
    "message/delivery-status+xml",
)
ORIGINAL_TYPES = (
    "message/rfc822",
    "text/rfc822-headers",
    "message/rfc822-headers",
    "text/rfc822",
    "message/global",
    "message/global-headers",
    "message/partial",
)
# A quoted local part (RFC 5321 Quoted-string: "a..b"@dom, "john smith"@dom) keeps its quotes.
ADDRESS = lazy(
    r'"[^"\\\r\n<>@]{1,64}"@[A-Za-z0-9](?:[A-Za-z0-9\-.]*[A-Za-z0-9])?'
    r"|[A-Za-z0-9!#$%&'*+/=?^_`{|}~.\-\"]{1,128}@[A-Za-z0-9](?:[A-Za-z0-9\-.]*[A-Za-z0-9])?"
)
_QUOTED_LOCAL = lazy(r'"[^"\\\r\n<>@]{1,64}"@')
_ANGLE = lazy(r"<([^<>\s@]{1,128}@[^<>\s@]{1,255})>")

# Where a plain-text bounce stops explaining and starts quoting the original message.
# (lower case throughout: searched case-blind, and in an ASCII text's lower-cased copy)
_MARKERS = (
    r"^(?:[ \t]*-{2,}[ \t]*(?:original message|original mail|below this line is a copy|"
    r"this is a copy of the message|the header of the original message|a copy of the original|"
    r"returned message|unsent message|undelivered message|message header follows|"
    r"the original message headers|header of the original|headers of your message|"
    r"forwarded message|copy of the message|start of the returned message|include:)"
    r"|[ \t]*-{3,}[^\n]*(?:original|returned|copy of|headers?)[^\n]*-{2,}[ \t]*$"
    r"|content-type:[ \t]*(?:message/rfc822|text/rfc822-headers)"
    r"|[ \t]*original message headers:?"
    r"|[ \t]*(?:message headers follow|original message follows|the original message headers are included|"
    r"included is a copy of the message header)"
    r"|[ \t]*\*\*\* ?(?:original|the original) message)"
)
ORIGINAL_MARKERS = lazy(_MARKERS, IGNORECASE | MULTILINE)
_MARKERS_LOWER = lazy(_MARKERS, MULTILINE)

# three header lines in a row, one of them a tell-tale one: a quoted original starts here
HEADER_BLOCK = lazy(
    r"^(?=(?:[A-Za-z][A-Za-z0-9-]*:[^\n]*\n(?:[ \t][^\n]*\n)*){2}[A-Za-z][A-Za-z0-9-]*:)"
    r"(?=(?:[^\n]*\n){0,6}(?:received|return-path|message-id|dkim-signature|x-mailer|mime-version):)",
    IGNORECASE | MULTILINE,
)


_FIRST_FIELD = lazy(r"^[A-Za-z][A-Za-z0-9-]*:[ \t]", MULTILINE)


def local_part(bare: str) -> str:
    """A layout's local-part pattern that also takes a quoted local part (spaces allowed)."""
    return r'(?:"[^"\\\r\n<>@]{1,64}"|' + bare + ")"


def first_address(text: str) -> str:
    m = _ANGLE.search(text)
    if m:
        return clean_address(m.group(1))
    m = ADDRESS.search(text)
    return clean_address(m.group(0) if m else "")


def clean_address(addr: str) -> str:
    """Strip brackets/quotes/trailing dots; lower-case the domain part."""
    addr = addr.strip().strip("<>()[]',;:")
    quoted = _QUOTED_LOCAL.match(addr)
    addr = addr.strip("<>()[]'\",;:").rstrip(".")
    if addr.lower().startswith("mailto:"):
        addr = addr[7:]
    at = addr.rfind("@")
    if at <= 0 or at == len(addr) - 1:
        return ""
    local, domain = addr[:at], addr[at + 1 :].rstrip(".").lower()
    if quoted:
        local = '"' + local  # the opening quote went with the brackets; the closing one stayed
    if not domain or "." not in domain and not domain.isalnum():
        return ""
    return f"{local}@{domain}"


class Report:
    """Lazily split views of a parsed Mail."""

    __slots__ = (
        "mail",
        "subject",
        "from_",
        "text",
        "ds",
        "original",
        "has_ds",
        "original_headers",
        "feedback",
        "machine_sent",
        "_error_text",
        "_marker",
        "_returned_header_text",
    )

    def __init__(self, mail: Mail) -> None:
        self.mail = mail
        self.subject = decode_words(mail.header("subject"))
        self.from_ = decode_words(mail.header("from"))
        texts: list[str] = []
        htmls: list[str] = []
        ds: list[str] = []
        original = ""
        feedback = ""
        for part in mail.parts:
            ct = part.ctype
            if ct in STATUS_TYPES:
                ds.append(part.text())
            elif ct in ORIGINAL_TYPES:
                if not original:
                    original = part.text() if ct != "message/rfc822" else part.body
            elif ct == "message/feedback-report":
                feedback = part.text()
            elif ct == "text/html":
                htmls.append(part.text())
            elif ct.startswith("text/") or ct in ("", "message/disposition-notification"):
                texts.append(part.text())
        if htmls and "@" not in "".join(texts):
            # the report is only in HTML (beside no text, an empty epilogue, or "view this in HTML")
            texts += [html_to_text(h) for h in htmls]
        self.text = "\n".join(texts)
        self.ds = "\n".join(ds)
        self.has_ds = bool(ds)
        self.original = original
        self.feedback = feedback
        self.original_headers: dict[str, list[str]] | None = None
        self.machine_sent: bool | None = None  # formats/_base.bounce_like, computed once
        # the views below are asked for by many parsers: each is computed once
        self._error_text: str | None = None
        self._marker: re.Match[str] | None | bool = False  # False: not searched yet
        self._returned_header_text: str | None = None

    def _original_marker(self) -> re.Match[str] | None:
        if self._marker is False:
            text = self.text
            if text.isascii():
                # in ASCII, lower-casing the text is what IGNORECASE does, at a fraction of its cost
                # (the positions are the same: ASCII letters lower-case one to one)
                self._marker = _MARKERS_LOWER.search(text.lower())
            else:
                self._marker = ORIGINAL_MARKERS.search(text)
        return self._marker  # type: ignore[return-value]

    def error_text(self) -> str:
        """The human-readable part without a quoted original."""
        if self._error_text is None:
            text = self.text
            m = self._original_marker() or HEADER_BLOCK.search(text)
            self._error_text = text[: m.start()] if m else text
        return self._error_text

    def returned(self) -> str:
        """The returned original (headers at least) if the bounce carries one."""
        if self.original:
            return self.original
        m = self._original_marker()
        return self.text[m.end() :] if m else ""

    def returned_header_text(self) -> str:
        """The returned original's header block as it came back, or ""."""
        if self._returned_header_text is None:
            text = self.returned().lstrip("\n")
            # skip a leading marker line's remainder and any blank lines before the headers
            m = _FIRST_FIELD.search(text)
            self._returned_header_text = split_head_body(text[m.start() :])[0] if m else ""
        return self._returned_header_text

    def returned_headers(self) -> dict[str, list[str]]:
        if self.original_headers is None:
            self.original_headers = parse_headers(self.returned_header_text())
        return self.original_headers

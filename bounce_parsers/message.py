"""A lazy, forgiving view of one e-mail: headers, MIME leaves, decoded text.

The stdlib `email` package is thorough but slow and raises on some broken input, so this
module reads only what classification needs: the top-level headers, the MIME tree split
by boundary lines, and each leaf decoded on demand. Every step tolerates broken input.
The raw bytes are decoded as latin-1 (one code point per byte, lossless) so that each
part can later be re-encoded and decoded with its own charset.
"""

from __future__ import annotations

import binascii
import codecs

from .patterns import IGNORECASE, MULTILINE, lazy

TYPE_CHECKING = False
if TYPE_CHECKING:
    import re

MAX_BYTES = 1_000_000  # bounces put the report first; a huge returned original is cut
MAX_PARTS = 64
MAX_DEPTH = 6

_PARAM = lazy(r';\s*([A-Za-z0-9_*.-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"?|([^;\s]*))')
_ENCWORD = lazy(r"=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=")
_ENCWORD_GAP = lazy(r"(\?=)\s+(=\?)")
_DELIM_GUESS = lazy(r"^--([A-Za-z0-9'()+_,./:=?-]{6,70})[ \t]*$", MULTILINE)
# a tag, but not an address that careless HTML left unescaped ("<user@host>:<br>")
_TAGS = lazy(r"<(?![^<>\s@]{1,128}@[^<>\s@]{1,255}>)[^<>]*>")
_BREAK = lazy(r"(?i)<br\s*/?>|</(?:p|div|tr|li|h\d)\s*>")
_CELL_END = lazy(r"(?i)</t[dh]\s*>")
_SCRIPT = lazy(r"(?is)<(script|style)\b.*?</\1\s*>")
_NOT_BASE64_PAD = lazy(r"[^A-Za-z0-9+/=]")
_NOT_BASE64 = lazy(r"[^A-Za-z0-9+/]")
_ENTITIES = {
    "&nbsp;": " ",
    "&lt;": "<",
    "&gt;": ">",
    "&amp;": "&",
    "&quot;": '"',
    "&#39;": "'",
    "&#160;": " ",
    "&#64;": "@",
    "&#x40;": "@",
    "&commat;": "@",
}
_ENTITY = lazy(r"&(?:nbsp|lt|gt|amp|quot|#39|#160|#64|#x40|commat);", IGNORECASE)


def normalize_newlines(text: str) -> str:
    """CRLF and bare CR become LF."""
    if "\r" in text:
        text = text.replace("\r\r\n", "\n").replace("\r\n", "\n").replace("\r", "\n")
    return text


_FIELD_NAME = lazy(r"[A-Za-z0-9_-]+:")
_HEADER_LINE = lazy(r"^([^\s:][^:\n]*):(.*(?:\n[ \t].*)*)", MULTILINE)


def parse_headers(block: str) -> dict[str, list[str]]:
    """Unfold a header block into name (lower-case) -> values, in order of appearance.
    Lines that are neither a field nor its continuation are skipped."""
    headers: dict[str, list[str]] = {}
    for name, value in _HEADER_LINE.findall(block):  # findall: no match object per line
        key = name.strip().lower()
        if not key or " " in key or "\t" in key:
            continue
        value = " ".join([v.strip() for v in value.split("\n")]).strip() if "\n" in value else value.strip()
        if key in headers:
            headers[key].append(value)
        else:
            headers[key] = [value]
    return headers


def split_head_body(text: str) -> tuple[str, str]:
    """Headers end at the first empty line; a message without one is all headers."""
    pos = text.find("\n\n")
    if pos < 0:
        return text, ""
    return text[:pos], text[pos + 2 :]


def content_type(value: str) -> tuple[str, dict[str, str]]:
    """'Text/Plain; charset="x"' -> ('text/plain', {'charset': 'x'})."""
    main = value.split(";", 1)[0].strip().lower()
    params: dict[str, str] = {}
    for m in _PARAM.finditer(value):
        val = m.group(2) if m.group(2) is not None else m.group(3)
        params.setdefault(m.group(1).lower(), val or "")
    return main, params


def _codec(charset: str) -> str:
    charset = (charset or "").strip().strip('"').lower()
    if not charset or charset in ("us-ascii", "ascii", "utf8", "utf-8", "unknown-8bit", "x-unknown"):
        return "utf-8"
    try:
        return codecs.lookup(charset).name
    except (LookupError, ValueError):
        return "utf-8"


def decode_bytes(data: bytes, charset: str = "") -> str:
    """Bytes in a declared charset to text; undecodable bytes never raise."""
    codec = _codec(charset)
    try:
        return data.decode(codec)
    except (UnicodeDecodeError, LookupError, ValueError):
        pass
    if codec != "utf-8":
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            pass
    try:
        return data.decode(codec, "replace")
    except (LookupError, ValueError, TypeError):
        return data.decode("latin-1")


def latin1_to_text(value: str, charset: str = "") -> str:
    """Re-read a latin-1 carried string as real text (utf-8 unless told)."""
    if value.isascii():
        if "\x1b" not in value:
            return value
        # ISO-2022-JP (Japanese carriers' notices) is 7-bit: escape sequences switch character
        # sets, so "all ASCII" does not mean "already text"; decode it even when undeclared
        return decode_bytes(value.encode("ascii"), charset if "2022" in charset else "iso-2022-jp")
    return decode_bytes(value.encode("latin-1", "replace"), charset)


def decode_words(value: str) -> str:
    """RFC 2047 encoded words in a header value to text."""
    if "=?" not in value:
        return latin1_to_text(value)
    value = _ENCWORD_GAP.sub("?==?", value)  # a literal: a template ("\\1\\2") would import re

    def one(m: re.Match[str]) -> str:
        charset, enc, payload = m.group(1).split("*", 1)[0], m.group(2).upper(), m.group(3)
        try:
            if enc == "B":
                data = binascii.a2b_base64(payload + "=" * (-len(payload) % 4))
            else:
                data = binascii.a2b_qp(payload.replace("_", " ").encode("latin-1", "replace"), header=True)
        except (binascii.Error, ValueError):
            return m.group(0)
        return decode_bytes(data, charset)

    out: list[str] = []
    pos = 0
    for m in _ENCWORD.finditer(value):
        out.append(latin1_to_text(value[pos : m.start()]))
        out.append(one(m))
        pos = m.end()
    out.append(latin1_to_text(value[pos:]))
    return "".join(out)


def html_to_text(html: str) -> str:
    html = _SCRIPT.sub(" ", html)
    if "\n" in html and _BREAK.search(html):
        html = " ".join(html.split("\n"))  # the markup, not the source's line ends, breaks lines
    html = _BREAK.sub("\n", html)
    html = _CELL_END.sub("\t", html)  # a table's cells stay columns of one line
    text = _TAGS.sub(" ", html)
    return _ENTITY.sub(lambda m: _ENTITIES.get(m.group(0).lower(), " "), text)


class Part:
    """One MIME leaf: its content type, headers and undecoded body (latin-1 carried)."""

    # plain slotted classes here and in Mail: dataclasses cost ~8 ms of every process start
    __slots__ = ("ctype", "params", "headers", "body")

    def __init__(self, ctype: str, params: dict[str, str], headers: dict[str, list[str]], body: str) -> None:
        self.ctype = ctype
        self.params = params
        self.headers = headers
        self.body = body

    def __repr__(self) -> str:
        return f"Part(ctype={self.ctype!r}, params={self.params!r}, headers={self.headers!r}, body={self.body!r})"

    def header(self, name: str) -> str:
        values = self.headers.get(name)
        return values[0] if values else ""

    def text(self) -> str:
        """The body with its transfer encoding undone and its charset decoded."""
        cte = self.header("content-transfer-encoding").strip().lower()
        body = self.body
        if cte == "base64":
            try:
                data = binascii.a2b_base64(_NOT_BASE64_PAD.sub("", body).split("=", 1)[0] + "==")
            except (binascii.Error, ValueError):
                data = b""
            if not data:
                try:
                    compact = _NOT_BASE64.sub("", body)
                    data = binascii.a2b_base64(compact[: len(compact) // 4 * 4])
                except (binascii.Error, ValueError):
                    data = body.encode("latin-1", "replace")
            return normalize_newlines(decode_bytes(data, self.params.get("charset", "")))
        if cte == "quoted-printable":
            try:
                data = binascii.a2b_qp(body.encode("latin-1", "replace"))
            except (binascii.Error, ValueError):
                data = body.encode("latin-1", "replace")
            return normalize_newlines(decode_bytes(data, self.params.get("charset", "")))
        return latin1_to_text(body, self.params.get("charset", ""))


class Mail:
    """The parsed message: top-level headers plus a flat list of MIME leaves."""

    __slots__ = ("headers", "body", "parts")

    def __init__(self, headers: dict[str, list[str]], body: str, parts: list[Part] | None = None) -> None:
        self.headers = headers
        self.body = body
        self.parts: list[Part] = [] if parts is None else parts

    def __repr__(self) -> str:
        return f"Mail(headers={self.headers!r}, body={self.body!r}, parts={self.parts!r})"

    def header(self, name: str) -> str:
        values = self.headers.get(name)
        return values[0] if values else ""


def split_boundary(body: str, boundary: str) -> list[str]:
    """Split a multipart body at its delimiter lines ("--b" or "--b--", trailing blanks
    allowed), like re.split with one group: preamble, then (closing flag, chunk) pairs.
    Plain string search: a regex per message boundary would be compiled once per message."""
    marker = "--" + boundary
    pieces: list[str] = []
    last = 0
    pos = body.find(marker)
    size = len(body)
    while pos >= 0:
        if pos == 0 or body[pos - 1] == "\n":
            eol = body.find("\n", pos)
            eol = size if eol < 0 else eol
            tail = body[pos + len(marker) : eol]
            closing = tail.startswith("--")
            if not (tail[2:] if closing else tail).strip(" \t"):
                pieces.append(body[last:pos])
                pieces.append("--" if closing else "")
                last = eol
                pos = body.find(marker, eol)
                continue
        pos = body.find(marker, pos + 1)
    pieces.append(body[last:])
    return pieces


def _walk(
    ctype: str, params: dict[str, str], headers: dict[str, list[str]], body: str, out: list[Part], depth: int
) -> None:
    if len(out) >= MAX_PARTS:
        return
    boundary = params.get("boundary", "")
    if ctype.startswith("multipart/") and not boundary:
        # a lost boundary parameter: guess it from the first delimiter-looking line
        guess = _DELIM_GUESS.search(body[:20000])
        boundary = guess.group(1) if guess else ""
        if not boundary:
            ctype = "text/plain"
    if ctype.startswith("multipart/") and boundary and depth < MAX_DEPTH:
        pieces = split_boundary(body, boundary.strip())
        if len(pieces) >= 3:
            # pieces: preamble, then (closing-flag, chunk) pairs
            for i in range(1, len(pieces) - 1, 2):
                chunk = pieces[i + 1]
                if chunk.startswith("\n"):
                    chunk = chunk[1:]
                head, sub = split_head_body(chunk)
                if head and not _FIELD_NAME.match(head):
                    head, sub = "", chunk  # part without headers
                sub_headers = parse_headers(head)
                sct, sparams = content_type(sub_headers.get("content-type", ["text/plain"])[0])
                _walk(sct or "text/plain", sparams, sub_headers, sub, out, depth + 1)
                if pieces[i] and pieces[i].startswith("--"):
                    break
            return
        # a multipart without its boundary lines: read it as plain text
        ctype = "text/plain"
    out.append(Part(ctype or "text/plain", params, headers, body))


def parse(raw: bytes | str) -> Mail:
    """Parse raw message bytes; never raises on malformed input."""
    text = raw[:MAX_BYTES].decode("latin-1") if isinstance(raw, bytes) else raw[:MAX_BYTES]
    text = normalize_newlines(text)
    if text.startswith("From ") and "\n" in text:  # mbox separator line
        text = text.split("\n", 1)[1]
    text = text.lstrip("\n")
    head, body = split_head_body(text)
    headers = parse_headers(head)
    mail = Mail(headers=headers, body=body)
    ctype, params = content_type(mail.header("content-type") or "text/plain")
    _walk(ctype or "text/plain", params, headers, body, mail.parts, 0)
    return mail

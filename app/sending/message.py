"""Message bytes, fast: everything that is the same for every recipient of a campaign is encoded once
(From, Reply-To, the MIME skeleton, constant headers, bodies without variables); per recipient only
the rendered parts are encoded (7bit as they are, or quoted-printable when needed) and spliced in.

Header injection is impossible by construction: every header line is written here, and every value
that comes from a user (names, subject, attributes rendered into the subject) has CR and LF folded to
spaces before it is encoded; addresses are checked to hold no whitespace or angle brackets at all."""

import binascii
import re
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from email.header import Header
from email.utils import formataddr, formatdate
from typing import NamedTuple

from bounce_parsers import HEADER_CAMPAIGN, HEADER_DELIVERY

_CRLF_RUN = re.compile(r"[\r\n]+\s*")
_BAD_ADDR = re.compile(r"[\s<>\"]")


class HeaderValueError(ValueError):
    pass


def one_line(value: str) -> str:
    """A header value on one line: CR/LF (and the indentation after them) become one space."""
    return _CRLF_RUN.sub(" ", value).strip()


def check_address(address: str, what: str) -> str:
    if not address or "@" not in address or _BAD_ADDR.search(address):
        raise HeaderValueError(f"{what}: {address!r} is not a bare e-mail address")
    return address


def encode_text(value: str) -> str:
    """An unstructured header value: plain when ASCII, RFC 2047 (folded) otherwise."""
    value = one_line(value)
    if value.isascii() and len(value) < 900:
        return value
    return Header(value, "utf-8", maxlinelen=76).encode("\r\n ")


def encode_mailbox(name: str, address: str) -> str:
    name = one_line(name)
    if not name:
        return address
    if address.isascii():
        return formataddr((name, address), charset="utf-8")
    # a non-ASCII local part goes as UTF-8 (RFC 6532, sent with SMTPUTF8); the name is encoded as usual
    return formataddr((name, "x@x.invalid"), charset="utf-8").replace("<x@x.invalid>", f"<{address}>")


class Body(NamedTuple):
    """An encoded body part: its Content-Transfer-Encoding header line and its CRLF bytes."""

    cte: bytes
    data: bytes


_7BIT = b"Content-Transfer-Encoding: 7bit\r\n\r\n"
_QP = b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
MAX_LINE = 998  # RFC 5322 2.1.1


def encode_body(text: str) -> Body:
    """7bit as it is when the text is ASCII with lines within the limit (the common case, and no
    encoding work at all); quoted-printable otherwise, which never contains our boundary's `=_`."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if text.isascii() and (len(text) <= MAX_LINE or max(map(len, text.split("\n"))) <= MAX_LINE):
        return Body(_7BIT, text.replace("\n", "\r\n").encode("ascii"))
    return Body(_QP, binascii.b2a_qp(text.encode("utf-8"), istext=True).replace(b"\n", b"\r\n"))


def dot_stuff(data: bytes) -> bytes:
    """SMTP transparency (RFC 5321 4.5.2): a leading dot on a line is doubled."""
    data = data.replace(b"\r\n.", b"\r\n..")
    return b"." + data if data.startswith(b".") else data


@dataclass(frozen=True)
class Identity:
    from_name: str
    from_address: str
    reply_to: str | None
    message_id_domain: str


@dataclass(frozen=True)
class Recipient:
    delivery_id: int | None
    email: str
    name: str
    message_id: str
    unsubscribe_url: str
    unsubscribe_mailto: str
    preferences_url: str = ""


class MessageFactory:
    """Builds the bytes of one campaign's messages; create once per campaign, call build() per recipient."""

    def __init__(
        self,
        identity: Identity,
        campaign_id: int | None,
        has_html: bool,
        has_text: bool,
        extra_head: Sequence[str] = (),
        bulk: bool = True,
    ) -> None:
        """EXTRA_HEAD: whole header lines the same for every message (List-Id, Feedback-ID, custom ones),
        already checked (app.sending.headers). BULK: a campaign's (Precedence: bulk, one-click unsubscribe);
        else a transactional message, which has neither."""
        check_address(identity.from_address, "From")
        if identity.reply_to:
            check_address(identity.reply_to, "Reply-To")
        if not (has_html or has_text):
            raise ValueError("a message needs an HTML or a text body")
        head = [f"From: {encode_mailbox(identity.from_name, identity.from_address)}"]
        if identity.reply_to:
            head.append(f"Reply-To: {identity.reply_to}")
        head += ["MIME-Version: 1.0", "Auto-Submitted: auto-generated"]
        if bulk:
            head += ["Precedence: bulk", "List-Unsubscribe-Post: List-Unsubscribe=One-Click"]
        if campaign_id is not None:
            head.append(f"{HEADER_CAMPAIGN}: {campaign_id}")
        head += extra_head
        self._head = ("\r\n".join(head) + "\r\n").encode()
        # `=_` cannot occur in quoted-printable output; in a 7bit body only by copying this random value
        boundary = f"=_bm_{secrets.token_hex(12)}"
        self._text_type = b"Content-Type: text/plain; charset=utf-8\r\n"
        self._html_type = b"Content-Type: text/html; charset=utf-8\r\n"
        self.has_html, self.has_text = has_html, has_text
        self._multipart = has_html and has_text
        if self._multipart:
            self._content_type = f'Content-Type: multipart/alternative; boundary="{boundary}"\r\n\r\n'.encode()
            sep = f"--{boundary}\r\n".encode()
            self._text_open = b"This is a multi-part message in MIME format.\r\n\r\n" + sep + self._text_type
            self._html_open = b"\r\n" + sep + self._html_type
            self._close = f"\r\n--{boundary}--\r\n".encode()
        self._date_second = -1
        self._date = b""

    def _date_header(self) -> bytes:
        now = int(time.time())
        if now != self._date_second:  # formatdate is slow enough to matter at thousands per second
            self._date_second, self._date = now, f"Date: {formatdate(now, usegmt=True)}\r\n".encode()
        return self._date

    def build(self, rcpt: Recipient, subject: str, html: Body | None, text: Body | None) -> bytes:
        """The message as CRLF bytes (not dot-stuffed); the bodies come already encoded (encode_body)."""
        check_address(rcpt.email, "To")
        lines = [
            f"To: {encode_mailbox(rcpt.name, rcpt.email)}",
            f"Subject: {encode_text(subject)}",
            f"Message-ID: {rcpt.message_id}",
        ]
        if rcpt.unsubscribe_url:  # a campaign's message (a transactional one has no unsubscribe)
            lines.append(f"List-Unsubscribe: <{rcpt.unsubscribe_url}>, <{rcpt.unsubscribe_mailto}>")
        if rcpt.preferences_url:  # RFC 2369: where a recipient manages their subscriptions
            lines.append(f"List-Help: <{rcpt.preferences_url}>")
        if rcpt.delivery_id is not None:
            lines.append(f"{HEADER_DELIVERY}: {rcpt.delivery_id}")
        parts = [self._head, self._date_header(), ("\r\n".join(lines) + "\r\n").encode()]
        if self._multipart:
            assert html is not None and text is not None
            parts += [
                self._content_type,
                self._text_open,
                text.cte,
                text.data,
                self._html_open,
                html.cte,
                html.data,
                self._close,
            ]
        else:
            body = text if self.has_text else html
            assert body is not None
            parts += [self._text_type if self.has_text else self._html_type, body.cte, body.data]
        return b"".join(parts)

"""The SMTP relay: connect (STARTTLS, implicit TLS or plain), authenticate, send, and say what went
wrong in words a user can act on. Sending pipelines MAIL/RCPT/DATA (RFC 2920) when the relay allows."""

import smtplib
import socket
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from app.models.states import DeliveryState
from app.settings import Settings
from app.tls import client_context

ErrorKind = Literal["connect", "tls", "auth", "relay", "sender", "protocol"]
# These stop a whole campaign (every recipient would fail the same way), so they pause it instead.
CAMPAIGN_ERRORS: frozenset[str] = frozenset({"tls", "auth", "relay", "sender"})
MAX_REPLY_LINE = 8192  # longer than any SMTP reply line (RFC 5321 allows 512)


class RelayError(Exception):
    """A problem with the relay itself, not with one recipient."""

    def __init__(self, kind: ErrorKind, message: str) -> None:
        self.kind = kind
        super().__init__(message)


class ConnectionLost(Exception):
    """The relay dropped the connection or answered 421: the message in flight is deferred."""

    def __init__(self, code: int, text: str) -> None:
        self.code, self.text = code, text
        super().__init__(f"{code} {text}")


class NotSendable(Exception):
    """This one message cannot go through this relay (the relay itself is fine): the row fails with
    the message, which is written for the campaign's ledger."""


class Sendable(Protocol):
    """One message for the relay: envelope and content (dot-stuffed, CRLF)."""

    @property
    def sender(self) -> str: ...
    @property
    def rcpt(self) -> str: ...
    @property
    def data(self) -> bytes: ...
    @property
    def envid(self) -> str | None: ...
    @property
    def smtputf8(self) -> bool: ...


@dataclass(frozen=True)
class Reply:
    code: int
    text: str
    stage: str  # mail | rcpt | data

    @property
    def kind(self) -> str:
        return {2: DeliveryState.SENT, 5: DeliveryState.FAILED}.get(self.code // 100, DeliveryState.DEFERRED)


def _text(msg: bytes | str) -> str:
    return (msg.decode("utf-8", "replace") if isinstance(msg, bytes) else msg).replace("\n", " ").strip()


def _where(settings: Settings) -> str:
    return f"{settings.smtp_host}:{settings.smtp_port}"


def is_relay_denied(code: int, text: str) -> bool:
    low = text.lower()
    return code >= 500 and ("relay access denied" in low or "relaying denied" in low or "not permitted to relay" in low)


def tls_context(settings: Settings) -> ssl.SSLContext:
    return client_context(settings.smtp_cafile, settings.smtp_verify)


def _no_greeting(s: Settings, exc: smtplib.SMTPServerDisconnected) -> str:
    """The relay accepted the TCP connection but never said hello: usually it is busy or limiting
    connections (Postfix at its process limit does exactly this), so this is worth retrying."""
    if isinstance(exc.__context__, TimeoutError) or "timed out" in str(exc):
        what = f"{_where(s)} accepted the connection but sent no greeting within {s.smtp_timeout:g}s"
    else:
        what = f"{_where(s)} closed the connection before its greeting"
    what += " (the relay is busy, restarting or limiting connections)"
    if s.smtp_port == 465 and s.smtp_security != "tls":  # a plain client waits for a TLS server's hello
        what += "; port 465 usually needs security 'tls'"
    return what


def _open_error(s: Settings, exc: OSError) -> RelayError:
    """What went wrong opening the relay connection, in words a user can act on (the most specific
    error class first)."""
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        if 400 <= exc.smtp_code < 500:  # e.g. 454: the relay's own login service is down for now
            return RelayError(
                "connect", f"{_where(s)} cannot check logins right now: {exc.smtp_code} {_text(exc.smtp_error)}"
            )
        return RelayError(
            "auth",
            f"authentication failed: {exc.smtp_code} {_text(exc.smtp_error)} (check the relay username and password)",
        )
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return RelayError(
            "auth", f"{_where(s)} offers no AUTH on this connection (many relays offer it only after STARTTLS)"
        )
    if isinstance(exc, ssl.SSLCertVerificationError):
        return RelayError(
            "tls",
            f"TLS certificate of {_where(s)} not trusted: {exc.verify_message} (give a CA file, or fix the host name)",
        )
    if isinstance(exc, (ssl.SSLEOFError, ssl.SSLZeroReturnError)):  # the line dropped mid-handshake
        return RelayError("connect", f"{_where(s)} closed the connection during the TLS handshake")
    if isinstance(exc, ssl.SSLError):
        return RelayError(
            "tls",
            f"TLS handshake with {_where(s)} failed: {exc.reason or exc} "
            "(is the security mode right? 'tls' is for port 465, 'starttls' for 587)",
        )
    if isinstance(exc, ConnectionRefusedError):
        return RelayError(
            "connect", f"connection to {_where(s)} refused (is the relay running, and is this the right port?)"
        )
    if isinstance(exc, TimeoutError):
        return RelayError(
            "connect",
            f"connection to {_where(s)} timed out after {s.smtp_timeout:g}s (is the "
            "port blocked by a firewall or your ISP? port 25 often is; try 587)",
        )
    if isinstance(exc, socket.gaierror):
        return RelayError("connect", f"cannot resolve relay host {s.smtp_host!r}: {exc.strerror}")
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return RelayError("connect", _no_greeting(s, exc))
    if isinstance(exc, smtplib.SMTPConnectError):  # a greeting other than 220, e.g. 421 busy
        return RelayError("connect", f"{_where(s)} is not taking mail now: {exc.smtp_code} {_text(exc.smtp_error)}")
    if isinstance(exc, smtplib.SMTPResponseException):
        return RelayError("protocol", f"{_where(s)} answered {exc.smtp_code} {_text(exc.smtp_error)}")
    return RelayError("connect", f"cannot connect to {_where(s)}: {exc.strerror or exc}")


class RelayConnection:
    """One authenticated SMTP session. Not thread-safe: one per sending thread."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.smtp: smtplib.SMTP | None = None
        self.sent_on_connection = 0
        self.dsn = False
        self.pipelining = False
        self.smtputf8 = False
        self.eightbit = False
        self._rbuf = bytearray()

    def open(self) -> None:
        try:
            smtp = self._connect()
        except OSError as exc:  # smtplib's and ssl's errors are OSErrors too
            raise _open_error(self.settings, exc) from exc
        if smtp.sock is not None:
            smtp.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.smtp = smtp
        self._rbuf = bytearray()
        self.sent_on_connection = 0
        self.dsn = smtp.has_extn("dsn")
        self.pipelining = smtp.has_extn("pipelining")
        self.smtputf8 = smtp.has_extn("smtputf8")
        self.eightbit = smtp.has_extn("8bitmime")

    def _connect(self) -> smtplib.SMTP:
        """Connect, say EHLO, secure the line as configured and log in."""
        s = self.settings
        if s.smtp_security == "tls":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                s.smtp_host, s.smtp_port, timeout=s.smtp_timeout, context=tls_context(s)
            )
        else:
            smtp = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout)
        smtp.ehlo()
        if s.smtp_security == "starttls":
            if not smtp.has_extn("starttls"):
                smtp.close()
                raise RelayError(
                    "tls",
                    f"{_where(s)} does not offer STARTTLS; use security 'tls' for port 465 "
                    "or 'none' only on a trusted network",
                )
            smtp.starttls(context=tls_context(s))
            smtp.ehlo()
        if s.smtp_username:
            password = s.smtp_password.get_secret_value() if s.smtp_password else ""
            smtp.login(s.smtp_username, password)
        return smtp

    def close(self) -> None:
        if self.smtp is not None:
            try:
                self.smtp.quit()
            except (smtplib.SMTPException, OSError):
                self.smtp.close()
            self.smtp = None

    def _reply(self) -> tuple[int, str]:
        """The next reply, read from the connection's own buffer (one recv serves every reply of a
        pipelined group). 421 or a closed line raises ConnectionLost."""
        assert self.smtp is not None and self.smtp.sock is not None
        buf, sock = self._rbuf, self.smtp.sock
        texts: list[bytes] = []
        start = 0
        while True:
            end = buf.find(b"\n", start)
            if end < 0:
                if len(buf) - start > MAX_REPLY_LINE:
                    raise ConnectionLost(-1, "the relay sent a reply line too long to be SMTP")
                chunk = sock.recv(65536)
                if not chunk:
                    raise ConnectionLost(-1, "connection closed")
                buf += chunk
                continue
            line = bytes(buf[start:end])
            start = end + 1
            texts.append(line[4:].strip(b" \t\r"))
            if line[3:4] != b"-":
                break
        del buf[:start]
        text = " ".join(t.decode("utf-8", "replace") for t in texts).strip()
        code = int(line[:3]) if line[:3].isdigit() else -1
        if code == 421 or code == -1:
            raise ConnectionLost(code, text or "connection closed")
        return code, text

    def send(self, message: Sendable) -> Reply:
        """Send one message. Raises ConnectionLost, RelayError('sender'/'relay') or NotSendable."""
        result = self.send_many([message])[0]
        if isinstance(result, Exception):
            raise result
        assert result is not None
        return result

    def send_many(self, messages: Sequence[Sendable]) -> list[Reply | Exception | None]:
        """Send messages one after another on this connection, each in its own transaction. When the
        relay offers PIPELINING (RFC 2920), a message's content and final dot go in one write with the
        next message's MAIL, RCPT and DATA, and their four replies come back together: one round trip
        per message. Each message gets its Reply, or what stopped it: NotSendable (that message only),
        ConnectionLost or RelayError (the connection is done with; the messages after it get None: not
        tried)."""
        results: list[Reply | Exception | None] = [None] * len(messages)
        try:
            if self.smtp is None:
                self.open()
            todo: list[tuple[int, str, Sendable]] = []
            for i, m in enumerate(messages):
                try:
                    todo.append((i, self._mail_command(m), m))
                except NotSendable as exc:
                    results[i] = exc
            if self.pipelining:
                self._pipelined(todo, results)
            else:
                for i, mail, m in todo:
                    results[i] = self._transaction(mail, m.sender, m.rcpt, m.data)
        except RelayError as exc:
            results[results.index(None)] = exc
        except (ConnectionLost, smtplib.SMTPServerDisconnected, OSError) as exc:
            if self.smtp is not None:
                self.smtp.close()
            self.smtp = None
            lost = exc if isinstance(exc, ConnectionLost) else ConnectionLost(-1, f"connection lost: {exc}")
            results[results.index(None)] = lost
        return results

    def _mail_command(self, m: Sendable) -> str:
        """MAIL FROM with the options this relay understands; NotSendable when the message needs an
        extension it lacks."""
        mail = f"MAIL FROM:<{m.sender}>"
        if m.smtputf8:
            if not self.smtputf8:
                raise NotSendable(
                    f"not sent: the relay {_where(self.settings)} does not support SMTPUTF8, which the "
                    "address needs (its part before the @ is not ASCII)"
                )
            mail += " SMTPUTF8" + (" BODY=8BITMIME" if self.eightbit else "")
        if m.envid and self.dsn:
            mail += f" ENVID={m.envid}"
        return mail

    def _pipelined(self, todo: list[tuple[int, str, Sendable]], results: list[Reply | Exception | None]) -> None:
        assert self.smtp is not None and self.smtp.sock is not None
        sock = self.smtp.sock
        ending = b""  # what ends the previous transaction, written in front of the next one's commands
        ending_replies = 0
        body_of: int | None = None  # the message whose content is in `ending`
        for k in range(len(todo) + 1):
            head = b""
            if k < len(todo):
                i, mail, m = todo[k]
                head = f"{mail}\r\nRCPT TO:<{m.rcpt}>\r\nDATA\r\n".encode()
            if not (ending or head):
                break
            sock.sendall(ending + head)
            if body_of is not None:
                code, text = self._reply()
                self.sent_on_connection += 1
                results[body_of], body_of = Reply(code, text, "data"), None
            else:
                for _ in range(ending_replies):
                    self._reply()
            ending, ending_replies = b"", 0
            if not head:
                break
            replies = (self._reply(), self._reply(), self._reply())
            verdict = _verdict(m.sender, replies)
            if verdict is None:  # 354: the content goes with the next write
                ending, ending_replies, body_of = _content(m.data), 1, i
                continue
            in_data = replies[2][0] == 354  # the relay opened DATA although a recipient failed
            ending, ending_replies = (b".\r\n" if in_data else b"") + b"RSET\r\n", 2 if in_data else 1
            if isinstance(verdict, RelayError):  # leave the session clean before giving it up
                sock.sendall(ending)
                for _ in range(ending_replies):
                    self._reply()
                raise verdict
            results[i] = verdict

    def _transaction(self, mail: str, sender: str, rcpt: str, data: bytes) -> Reply:
        """One message in lock step, each command waiting for its reply: a relay without PIPELINING."""
        assert self.smtp is not None and self.smtp.sock is not None
        sock = self.smtp.sock
        sock.sendall(f"{mail}\r\n".encode())
        replies = [self._reply()]
        if replies[0][0] == 250:
            sock.sendall(f"RCPT TO:<{rcpt}>\r\n".encode())
            replies.append(self._reply())
            if replies[1][0] in (250, 251):
                sock.sendall(b"DATA\r\n")
                replies.append(self._reply())
        replies += [(0, "")] * (3 - len(replies))  # commands not sent: no reply
        verdict = _verdict(sender, (replies[0], replies[1], replies[2]))
        if verdict is None:
            sock.sendall(_content(data))
            code, text = self._reply()
            self.sent_on_connection += 1
            return Reply(code, text, "data")
        self._reset(replies[2][0] == 354)
        if isinstance(verdict, RelayError):
            raise verdict
        return verdict

    def _reset(self, in_data: bool) -> None:
        assert self.smtp is not None and self.smtp.sock is not None
        if in_data:  # the relay opened DATA although a recipient failed: end it empty, then reset
            self.smtp.sock.sendall(b".\r\n")
            self._reply()
        self.smtp.sock.sendall(b"RSET\r\n")
        self._reply()


def _content(data: bytes) -> bytes:
    """The message and its final dot in one write: a separate small "." write would wait for the
    delayed ACK of the body (Nagle)."""
    return data + (b".\r\n" if data.endswith(b"\r\n") else b"\r\n.\r\n")


def _verdict(sender: str, replies: tuple[tuple[int, str], ...]) -> Reply | RelayError | None:
    """From the replies to MAIL, RCPT and DATA: None when the relay waits for the content (354); else
    the message's Reply, or the RelayError that stops the whole campaign."""
    (mail_code, mail_text), (rcpt_code, rcpt_text), (data_code, data_text) = replies
    if mail_code != 250:
        if mail_code >= 500:
            return RelayError("sender", f"the relay refuses the sender {sender}: {mail_code} {mail_text}")
        return Reply(mail_code, mail_text, "mail")
    if rcpt_code not in (250, 251):
        if is_relay_denied(rcpt_code, rcpt_text):
            return RelayError(
                "relay",
                f"relay denied: {rcpt_code} {rcpt_text} (the relay only accepts mail for "
                "its own domain until you authenticate: set the relay username and password)",
            )
        return Reply(rcpt_code, rcpt_text, "rcpt")
    if data_code != 354:
        return Reply(data_code, data_text, "data")
    return None


@dataclass(frozen=True)
class ConnectionCheck:
    ok: bool
    kind: str  # ok | connect | tls | auth | relay | sender | protocol
    message: str


def test_connection(settings: Settings, sender: str, probe_rcpt: str) -> ConnectionCheck:
    """Connect, authenticate and try MAIL FROM/RCPT TO without sending anything (RSET at the end)."""
    conn = RelayConnection(settings)
    try:
        conn.open()
        assert conn.smtp is not None
        code, text = conn.smtp.mail(sender)
        if code != 250:
            return ConnectionCheck(False, "sender", f"the relay refuses the sender {sender}: {code} {_text(text)}")
        code, text = conn.smtp.rcpt(probe_rcpt)
        reply = _text(text)
        conn.smtp.rset()
        if is_relay_denied(code, reply):
            return ConnectionCheck(
                False,
                "relay",
                f"relay denied: {code} {reply} (the relay only accepts mail for "
                "its own domain until you authenticate: set the username and "
                "password, and use STARTTLS or TLS)",
            )
        if code not in (250, 251):
            return ConnectionCheck(False, "relay", f"the relay refuses recipient {probe_rcpt}: {code} {reply}")
        auth = f"authenticated as {settings.smtp_username}" if settings.smtp_username else "without authentication"
        return ConnectionCheck(True, "ok", f"{_where(settings)} ({settings.smtp_security}) accepts mail {auth}")
    except RelayError as exc:
        return ConnectionCheck(False, exc.kind, str(exc))
    except (smtplib.SMTPException, OSError) as exc:
        return ConnectionCheck(False, "connect", f"{_where(settings)}: connection lost: {exc}")
    finally:
        conn.close()

"""The SMTP relay: connect (STARTTLS, implicit TLS or plain), authenticate, send, and say what went
wrong in words a user can act on. Sending pipelines MAIL/RCPT/DATA (RFC 2920) when the relay allows."""

import smtplib
import socket
import ssl
from dataclasses import dataclass
from typing import Literal

from app.models.states import DeliveryState
from app.settings import Settings
from app.tls import client_context

ErrorKind = Literal["connect", "tls", "auth", "relay", "sender", "protocol"]
# These stop a whole campaign (every recipient would fail the same way), so they pause it instead.
CAMPAIGN_ERRORS: frozenset[str] = frozenset({"tls", "auth", "relay", "sender"})


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

    def open(self) -> None:
        try:
            smtp = self._connect()
        except OSError as exc:  # smtplib's and ssl's errors are OSErrors too
            raise _open_error(self.settings, exc) from exc
        if smtp.sock is not None:
            smtp.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.smtp = smtp
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
        assert self.smtp is not None
        code, msg = self.smtp.getreply()
        text = _text(msg)
        if code == 421 or code == -1:
            raise ConnectionLost(code, text or "connection closed")
        return code, text

    def send(self, sender: str, rcpt: str, data: bytes, envid: str | None = None, smtputf8: bool = False) -> Reply:
        """Send one message (already dot-stuffed, CRLF). `smtputf8`: an address in it is not ASCII
        (RFC 6531). Raises ConnectionLost, RelayError('sender'/'relay') or NotSendable."""
        if self.smtp is None:
            self.open()
        mail = f"MAIL FROM:<{sender}>"
        if smtputf8:
            if not self.smtputf8:
                raise NotSendable(
                    f"not sent: the relay {_where(self.settings)} does not support SMTPUTF8, which the "
                    "address needs (its part before the @ is not ASCII)"
                )
            mail += " SMTPUTF8" + (" BODY=8BITMIME" if self.eightbit else "")
        if envid and self.dsn:
            mail += f" ENVID={envid}"
        try:
            return self._transaction(mail, sender, rcpt, data)
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            self.smtp = None
            raise ConnectionLost(-1, f"connection lost: {exc}") from exc
        except ConnectionLost:
            if self.smtp is not None:
                self.smtp.close()
            self.smtp = None
            raise

    def _transaction(self, mail: str, sender: str, rcpt: str, data: bytes) -> Reply:
        assert self.smtp is not None
        smtp = self.smtp
        if self.pipelining:
            smtp.send(f"{mail}\r\nRCPT TO:<{rcpt}>\r\nDATA\r\n".encode())
            replies = [self._reply(), self._reply(), self._reply()]
        else:
            smtp.send(f"{mail}\r\n".encode())
            replies = [self._reply()]
            if replies[0][0] == 250:
                smtp.send(f"RCPT TO:<{rcpt}>\r\n".encode())
                replies.append(self._reply())
                if replies[1][0] in (250, 251):
                    smtp.send(b"DATA\r\n")
                    replies.append(self._reply())
        (mail_code, mail_text) = replies[0]
        if mail_code != 250:
            self._reset(len(replies) == 3 and replies[2][0] == 354)
            if mail_code >= 500:
                raise RelayError("sender", f"the relay refuses the sender {sender}: {mail_code} {mail_text}")
            return Reply(mail_code, mail_text, "mail")
        rcpt_code, rcpt_text = replies[1]
        if rcpt_code not in (250, 251):
            self._reset(len(replies) == 3 and replies[2][0] == 354)
            if is_relay_denied(rcpt_code, rcpt_text):
                raise RelayError(
                    "relay",
                    f"relay denied: {rcpt_code} {rcpt_text} (the relay only accepts mail for "
                    "its own domain until you authenticate: set the relay username and password)",
                )
            return Reply(rcpt_code, rcpt_text, "rcpt")
        data_code, data_text = replies[2]
        if data_code != 354:
            self._reset(False)
            return Reply(data_code, data_text, "data")
        # one write: a separate small "." write would wait for the delayed ACK of the body (Nagle)
        smtp.send(data + (b".\r\n" if data.endswith(b"\r\n") else b"\r\n.\r\n"))
        code, text = self._reply()
        self.sent_on_connection += 1
        return Reply(code, text, "data")

    def _reset(self, in_data: bool) -> None:
        assert self.smtp is not None
        if in_data:  # the relay opened DATA although a recipient failed: end it empty, then reset
            self.smtp.send(b".\r\n")
            self._reply()
        self.smtp.send(b"RSET\r\n")
        self._reply()


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

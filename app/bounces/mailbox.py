"""The noreply mailbox behind one small interface: IMAP (imap-tools) or POP3 (poplib with UIDL).

The sweep lists message ids, fetches raw bytes without touching flags, marks for deletion only what
it has committed, and makes the deletions final with `close(commit=True)`: POP3 applies DELE at QUIT;
IMAP flags \\Deleted per batch and expunges once at the end (Dovecot's Maildir expunge costs time in
proportion to the folder, so once per sweep instead of once per batch). Closing with `commit=False`,
or losing the connection, leaves every message in place; the next sweep finds their hashes recorded
and deletes them then."""

import contextlib
import imaplib
import poplib
import re
import socket
import ssl
from collections.abc import Iterator, Sequence
from typing import Any, BinaryIO, Protocol

from imap_tools import BaseMailBox, MailBox, MailBoxStartTls, MailBoxUnencrypted
from imap_tools.errors import MailboxFolderSelectError, MailboxLoginError, UnexpectedCommandStatusError

from app.settings import Settings
from app.tls import client_context

DEFAULT_PORTS = {
    ("imap", "tls"): 993,
    ("imap", "starttls"): 143,
    ("imap", "none"): 143,
    ("pop3", "tls"): 995,
    ("pop3", "starttls"): 110,
    ("pop3", "none"): 110,
}
TIMEOUT_SECONDS = 30.0
_ALL_LINES = 2**31 - 1
_POP3_WINDOW = 50
_FETCH_UID = re.compile(rb"UID (\d+)")


class MailboxError(Exception):
    """A mailbox problem worded for the operator (refused, TLS, login failed, no such folder...)."""


class Mailbox(Protocol):
    """What the sweep needs from a mailbox. Ids are stable across sessions (IMAP UIDVALIDITY:UID, POP3 UIDL)."""

    name: str

    def list_ids(self) -> list[str]: ...

    def fetch(self, ids: Sequence[str]) -> Iterator[tuple[str, bytes]]: ...

    def delete(self, ids: Sequence[str]) -> None:
        """Mark for deletion; final only once close(commit=True) returns."""
        ...

    def keep(self, ids: Sequence[str]) -> int:
        """Set aside messages the sweep does not handle; returns how many were moved."""
        ...

    def close(self, commit: bool) -> None: ...


def _context(settings: Settings) -> ssl.SSLContext:
    return client_context(settings.mailbox_cafile, settings.mailbox_verify)


def _endpoint(settings: Settings) -> tuple[str, int]:
    if not settings.mailbox_host:
        raise MailboxError("mailbox not configured: set BULKMAIL_MAILBOX_HOST")
    if not settings.mailbox_user or settings.mailbox_password is None:
        raise MailboxError("mailbox not configured: set BULKMAIL_MAILBOX_USER and BULKMAIL_MAILBOX_PASSWORD")
    port = settings.mailbox_port or DEFAULT_PORTS[(settings.mailbox_protocol, settings.mailbox_security)]
    return settings.mailbox_host, port


def describe(exc: BaseException, where: str) -> str:
    """A one-line reason for a network/TLS failure; never includes credentials."""
    if isinstance(exc, MailboxError):
        return str(exc)
    if isinstance(exc, ConnectionRefusedError):
        return f"{where}: connection refused"
    if isinstance(exc, socket.gaierror):
        return f"{where}: cannot resolve host name"
    if isinstance(exc, TimeoutError | socket.timeout):
        return f"{where}: timed out"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"{where}: TLS certificate not trusted ({exc.verify_message})"
    if isinstance(exc, ssl.SSLError):
        return f"{where}: TLS handshake failed ({exc.reason or exc}); check the port and security setting"
    if isinstance(exc, ConnectionError | EOFError | imaplib.IMAP4.abort):
        return f"{where}: connection lost ({type(exc).__name__}: {exc})"
    return f"{where}: {type(exc).__name__}: {exc}"


def _uid_set(uids: Sequence[str]) -> str:
    """1,2,3,7 -> 1:3,7 (only runs of our own consecutive UIDs, so no other message is ever named)."""
    numbers = sorted({int(u) for u in uids})
    parts: list[str] = []
    start = prev = numbers[0]
    for n in [*numbers[1:], None]:
        if n is not None and n == prev + 1:
            prev = n
            continue
        parts.append(str(start) if start == prev else f"{start}:{prev}")
        if n is not None:
            start = prev = n
    return ",".join(parts)


class ImapMailbox:
    def __init__(self, settings: Settings) -> None:
        host, port = _endpoint(settings)
        self.name = f"imap://{host}:{port}/{settings.mailbox_folder}"
        self._folder = settings.mailbox_folder
        self._keep_folder = settings.mailbox_keep_folder
        try:
            box: BaseMailBox
            if settings.mailbox_security == "tls":
                box = MailBox(host, port, timeout=TIMEOUT_SECONDS, ssl_context=_context(settings))
            elif settings.mailbox_security == "starttls":
                box = MailBoxStartTls(host, port, timeout=TIMEOUT_SECONDS, ssl_context=_context(settings))
            else:
                box = MailBoxUnencrypted(host, port, timeout=TIMEOUT_SECONDS)
        except (OSError, imaplib.IMAP4.error, UnexpectedCommandStatusError) as exc:
            raise MailboxError(describe(exc, self.name)) from exc
        self._box = box
        try:
            box.login(settings.mailbox_user or "", settings.mailbox_password.get_secret_value(), initial_folder=None)  # type: ignore[union-attr]  # _endpoint() refused a missing password
        except MailboxLoginError as exc:
            self._abandon()
            raise MailboxError(f"{self.name}: login failed for user {settings.mailbox_user!r}") from exc
        try:
            box.folder.set(self._folder)
        except MailboxFolderSelectError as exc:
            self._abandon()
            raise MailboxError(f"{self.name}: no such folder {self._folder!r}") from exc
        # the capabilities after login: Dovecot names UIDPLUS only then, and imaplib keeps the first list
        typ, data = box.client.capability()
        self._uidplus = typ == "OK" and b"UIDPLUS" in b" ".join(d for d in data if isinstance(d, bytes)).upper().split()
        status = box.client.untagged_responses.get("UIDVALIDITY") or [b"0"]
        self._uidvalidity = status[-1].decode()  # type: ignore[union-attr]  # an UIDVALIDITY response is bytes, never a literal's tuple
        self._deleted: list[str] = []

    def _abandon(self) -> None:
        try:
            self._box.logout()
        except Exception:  # noqa: BLE001 - closing a connection that already failed
            with contextlib.suppress(OSError):
                self._box.client.shutdown()

    def _uid(self, ident: str) -> str:
        validity, _, uid = ident.partition(":")
        if validity != self._uidvalidity:
            raise MailboxError(f"{self.name}: UIDVALIDITY changed; list the mailbox again")
        return uid

    def list_ids(self) -> list[str]:
        return [f"{self._uidvalidity}:{uid}" for uid in self._box.uids("ALL")]

    def fetch(self, ids: Sequence[str]) -> Iterator[tuple[str, bytes]]:
        if not ids:
            return
        # BODY.PEEK: the sweep never marks anything \Seen, so human mail looks untouched
        typ, data = self._box.client.uid("FETCH", _uid_set([self._uid(i) for i in ids]), "(UID BODY.PEEK[])")
        if typ != "OK":
            raise MailboxError(f"{self.name}: FETCH failed: {data!r}")
        for item in data:
            if isinstance(item, tuple) and (m := _FETCH_UID.search(item[0])):
                yield f"{self._uidvalidity}:{m.group(1).decode()}", item[1]

    def delete(self, ids: Sequence[str]) -> None:
        if not ids:
            return
        uids = [self._uid(i) for i in ids]
        typ, data = self._box.client.uid("STORE", _uid_set(uids), "+FLAGS.SILENT", r"(\Deleted)")
        if typ != "OK":
            raise MailboxError(f"{self.name}: STORE \\Deleted failed: {data!r}")
        self._deleted.extend(uids)

    def keep(self, ids: Sequence[str]) -> int:
        if not ids or not self._keep_folder:
            return 0
        if not self._box.folder.exists(self._keep_folder):
            self._box.folder.create(self._keep_folder)
        self._box.move([self._uid(i) for i in ids], self._keep_folder)
        return len(ids)

    def close(self, commit: bool) -> None:
        if commit and self._deleted:
            client = self._box.client
            # UID EXPUNGE removes only our messages, not whatever else a person flagged \Deleted
            if self._uidplus:
                typ, data = client.uid("EXPUNGE", _uid_set(self._deleted))
            else:
                typ, data = client.expunge()
            if typ != "OK":
                self._abandon()
                raise MailboxError(f"{self.name}: EXPUNGE failed: {data!r}")
            self._deleted = []
        self._abandon()


class Pop3Mailbox:
    def __init__(self, settings: Settings) -> None:
        host, port = _endpoint(settings)
        self.name = f"pop3://{host}:{port}"
        try:
            if settings.mailbox_security == "tls":
                pop: poplib.POP3 = poplib.POP3_SSL(host, port, timeout=TIMEOUT_SECONDS, context=_context(settings))
            else:
                pop = poplib.POP3(host, port, timeout=TIMEOUT_SECONDS)
                if settings.mailbox_security == "starttls":
                    pop.stls(_context(settings))
        except (OSError, poplib.error_proto) as exc:
            raise MailboxError(describe(exc, self.name)) from exc
        self._pop = pop
        try:
            pop.user(settings.mailbox_user or "")
            pop.pass_(settings.mailbox_password.get_secret_value())  # type: ignore[union-attr]  # _endpoint() refused a missing password
        except poplib.error_proto as exc:
            self._drop()
            raise MailboxError(f"{self.name}: login failed for user {settings.mailbox_user!r}") from exc
        self._numbers: dict[str, str] = {}
        self._sizes: dict[str, int] = {}
        try:
            self._pipelining = "PIPELINING" in pop.capa()
        except poplib.error_proto:  # no CAPA: an old server, one command at a time
            self._pipelining = False

    def _commands(self, commands: list[str], multiline: bool) -> Iterator[tuple[bytes, bytes]]:
        """Each command's status line and (multi-line) body, in order. With PIPELINING (RFC 2449) a window
        of commands goes out in one write and the answers are read in bulk, saving a round trip and
        poplib's line-by-line loop per message; the window stays small so neither side's buffers fill."""
        pop: Any = self._pop  # poplib's _putcmd/_getresp/_getlongresp are private, so not in its stubs
        for start in range(0, len(commands), _POP3_WINDOW):
            window = commands[start : start + _POP3_WINDOW]
            if self._pipelining:
                pop.sock.sendall(b"".join(c.encode() + b"\r\n" for c in window))
                yield from _responses(pop.file, len(window), multiline)
                continue
            for command in window:
                pop._putcmd(command)
                if multiline:
                    resp, lines, _octets = pop._getlongresp()
                    yield resp, _joined(lines)
                else:
                    yield pop._getresp(), b""

    def list_ids(self) -> list[str]:
        _resp, lines, _octets = self._pop.uidl()
        self._numbers = {}
        for line in lines:
            number, uidl = line.decode().split(" ", 1)
            self._numbers[uidl] = number
        _resp, lines, _octets = self._pop.list()
        self._sizes = {n.decode(): int(size) for n, size in (line.split()[:2] for line in lines)}
        return list(self._numbers)

    def fetch(self, ids: Sequence[str]) -> Iterator[tuple[str, bytes]]:
        numbers = [self._numbers[uidl] for uidl in ids]
        # TOP with every line instead of RETR: servers such as Dovecot flag a RETRieved message \Seen,
        # and human mail must look untouched. RETR only if a server cuts TOP short.
        # read every pipelined answer before a fallback RETR can be sent
        tops = list(self._commands([f"TOP {n} {_ALL_LINES}" for n in numbers], multiline=True))
        for uidl, number, (_resp, raw) in zip(ids, numbers, tops, strict=True):
            if len(raw) < self._sizes.get(number, 0):
                _resp, lines, _octets = self._pop.retr(number)
                raw = _joined(lines)
            yield uidl, raw

    def delete(self, ids: Sequence[str]) -> None:
        for _ in self._commands([f"DELE {self._numbers[uidl]}" for uidl in ids], multiline=False):
            pass

    def keep(self, ids: Sequence[str]) -> int:
        return 0  # POP3 has no folders: unhandled mail simply stays

    def close(self, commit: bool) -> None:
        if commit:
            # QUIT is what makes the DELEs permanent; a failure here leaves every message in place
            try:
                self._pop.quit()
            except (OSError, poplib.error_proto) as exc:
                self._drop()
                raise MailboxError(describe(exc, f"{self.name}: QUIT")) from exc
        else:
            self._drop()

    def _drop(self) -> None:
        # closing without QUIT: the server discards pending DELEs
        sock = getattr(self._pop, "sock", None)
        if sock is not None:
            sock.close()


def _joined(lines: list[bytes]) -> bytes:
    """poplib's lines of a multi-line answer (dot-stuffing undone) back into the message's bytes."""
    return b"".join(line + b"\r\n" for line in lines)


def _responses(stream: BinaryIO, count: int, multiline: bool) -> Iterator[tuple[bytes, bytes]]:
    """COUNT pipelined POP3 answers read from STREAM in large pieces: (status line, body). A multi-line
    body ends at CRLF "." CRLF and has its dot-stuffing undone (RFC 1939 section 3); -ERR has none."""
    buf, pos = bytearray(), 0
    for _ in range(count):
        while (eol := buf.find(b"\r\n", pos)) < 0:
            buf += _more(stream)
        status = bytes(buf[pos:eol])
        pos = eol + 2
        if not status.startswith((b"+OK", b"-ERR")):
            raise poplib.error_proto(f"not a POP3 answer: {status[:80]!r}")
        if not multiline or status.startswith(b"-ERR"):
            yield status, b""
            continue
        search = eol  # an empty body: the terminator's first CRLF is the status line's own
        while (end := buf.find(b"\r\n.\r\n", search)) < 0:
            search = max(eol, len(buf) - 4)
            buf += _more(stream)
        body = bytes(buf[pos : end + 2]) if end > eol else b""
        del buf[: end + 5]
        pos = 0
        if body.startswith(b".."):
            body = body[1:]
        yield status, body.replace(b"\r\n..", b"\r\n.")
    if pos < len(buf):
        raise poplib.error_proto(f"unexpected data after the answers: {bytes(buf[pos : pos + 80])!r}")


def _more(stream: BinaryIO) -> bytes:
    chunk = stream.read1(1 << 16)  # type: ignore[attr-defined]  # poplib's file is a BufferedReader
    if not chunk:
        raise poplib.error_proto("the server closed the connection")
    return chunk


def open_mailbox(settings: Settings) -> Mailbox:
    """A logged-in mailbox on the configured folder, or MailboxError naming what went wrong."""
    if settings.mailbox_protocol == "pop3":
        return Pop3Mailbox(settings)
    return ImapMailbox(settings)


def check_mailbox(settings: Settings) -> str:
    """`bulkmail mailbox test`: connect, log in, open the folder and count; a summary or MailboxError."""
    box = open_mailbox(settings)
    try:
        count = len(box.list_ids())
    except (OSError, EOFError, imaplib.IMAP4.error, poplib.error_proto) as exc:
        box.close(commit=False)
        raise MailboxError(describe(exc, box.name)) from exc
    box.close(commit=False)
    return f"{box.name}: login ok, {count} message(s)"

"""A small SMTP server for the sending tests: records every accepted envelope and message, and can
answer chosen recipients with scripted replies (451 once, 550, 421, a dropped line...)."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from tests.support.network import free_port


@dataclass
class Accepted:
    mail_from: str
    rcpt: str
    data: bytes
    mail_options: list[str]


@dataclass
class Sink:
    """Replies: rcpt_script[address] is a list of replies handed out one per RCPT for that address
    ('250' passes through); `drop_after_data` closes the connection instead of answering a DATA."""

    accepted: list[Accepted] = field(default_factory=list)
    rcpt_script: dict[str, list[str]] = field(default_factory=dict)
    drop_data_for: set[str] = field(default_factory=set)
    on_message: Callable[[Accepted], None] | None = None
    pipelining: bool = False  # offer PIPELINING (RFC 2920) in the EHLO answer
    lock: threading.Lock = field(default_factory=threading.Lock)

    def counts(self) -> Counter[str]:
        with self.lock:
            return Counter(a.rcpt for a in self.accepted)

    async def handle_EHLO(self, server: SMTP, session: Session, envelope: Envelope, hostname: str, responses):  # noqa: N802
        session.host_name = hostname
        if self.pipelining:
            responses.insert(-1, "250-PIPELINING")
        return responses

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options):  # noqa: N802
        script = self.rcpt_script.get(address)
        if script:
            reply = script.pop(0)
            if not reply.startswith("250"):
                return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        rcpt = envelope.rcpt_tos[0]
        if rcpt in self.drop_data_for:
            self.drop_data_for.discard(rcpt)
            server.transport.close()
            return "451 dropped"
        item = Accepted(envelope.mail_from, rcpt, envelope.original_content or b"", list(envelope.mail_options))
        with self.lock:
            self.accepted.append(item)
        if self.on_message:
            self.on_message(item)
        return "250 2.0.0 Ok: queued"


class _Authenticator:
    def __init__(self, users: dict[str, str]) -> None:
        self.users = users

    def __call__(self, server, session, envelope, mechanism, auth_data) -> AuthResult:  # type: ignore[no-untyped-def]
        if (
            isinstance(auth_data, LoginPassword)
            and self.users.get(auth_data.login.decode()) == auth_data.password.decode()
        ):
            return AuthResult(success=True)
        return AuthResult(success=False, handled=False)


class SinkServer:
    def __init__(
        self,
        sink: Sink,
        users: dict[str, str] | None = None,
        port: int | None = None,
        smtputf8: bool = True,
        greeting_name: str | None = None,  # the host name of its 220 greeting (default: this machine's)
    ) -> None:
        self.sink = sink
        self.port = port or free_port()
        kwargs: dict[str, object] = {"enable_SMTPUTF8": smtputf8, "server_hostname": greeting_name}
        if users is not None:
            kwargs |= {"authenticator": _Authenticator(users), "auth_require_tls": False}
        self.controller = Controller(sink, hostname="127.0.0.1", port=self.port, decode_data=False, **kwargs)

    def __enter__(self) -> SinkServer:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()


class MuteRelay:
    """A real listening socket that accepts connections and never greets: what a client sees of a
    relay at its connection limit (Postfix with every smtpd process busy)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._server = socket.create_server(("127.0.0.1", port), backlog=64)
        self._held: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return  # closed
            self._held.append(conn)

    def __enter__(self) -> MuteRelay:
        self._thread.start()
        return self

    def close(self) -> None:
        # shutdown wakes the thread blocked in accept(); a bare close would leave the socket listening
        with contextlib.suppress(OSError):
            self._server.shutdown(socket.SHUT_RDWR)
        self._server.close()
        for conn in self._held:
            conn.close()
        self._thread.join(5)

    def __exit__(self, *exc: object) -> None:
        self.close()

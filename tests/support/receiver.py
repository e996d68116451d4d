"""A local HTTP server standing in for the CMS's webhook endpoint, on 127.0.0.1 only."""

import json
import ssl
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


class Receiver:
    """Records every POST; `status` is what it answers (with `redirect_to` as Location when set).
    stop()/start() keep the same port. HOST is a loopback address (127.0.0.0/8). With TLS it speaks
    HTTPS and records in `sni` the server name each handshake asked for."""

    def __init__(self, port: int = 0, host: str = "127.0.0.1", tls: ssl.SSLContext | None = None) -> None:
        self.received: list[Received] = []
        self.sni: list[str | None] = []
        self._tls = tls
        self.status = 200
        self.redirect_to: str | None = None
        self._host = host
        self._port = port
        self._server: ThreadingHTTPServer | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"{'https' if self._tls else 'http'}://{self._host}:{self._port}/hooks"

    def start(self) -> None:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                outer.received.append(Received({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(outer.status)
                if outer.redirect_to is not None:
                    self.send_header("Location", outer.redirect_to)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer((self._host, self._port), Handler)
        self._port = self._server.server_address[1]
        if self._tls is not None:
            self._tls.sni_callback = lambda _sock, name, _ctx: outer.sni.append(name)  # type: ignore[assignment,misc]
            self._server.socket = self._tls.wrap_socket(self._server.socket, server_side=True)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()
        self._server = None

    def wait_for(self, count: int, timeout: float = 15.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return list(self.received)

"""Debian's SpamAssassin daemon on 127.0.0.1 and a free port, local tests only (`--local`: no DNS
blocklists, no network), with the rules the package ships (no sa-update)."""

import os
import shutil
import socket
import time
from pathlib import Path

from tests.support.daemon import Daemon
from tests.support.network import free_port

SPAMD = "/usr/sbin/spamd"


class Spamd(Daemon):
    def __init__(self, root: Path) -> None:
        if shutil.which(SPAMD) is None:
            raise RuntimeError("spamd is not installed: python -m tests.support.mailstack install")
        self.root = root / "spamd"
        self.root.mkdir(parents=True, exist_ok=True)
        self.port = free_port()

    def start(self) -> "Spamd":
        home = self.root / "home"
        home.mkdir(exist_ok=True)
        cmd = [
            SPAMD,
            "--local",  # no network tests: nothing leaves the machine
            "--nouser-config",
            f"--listen=127.0.0.1:{self.port}",
            "--allowed-ips=127.0.0.1",
            "--max-children=1",
            "--min-children=1",
            f"--pidfile={self.root / 'spamd.pid'}",
            f"--helper-home-dir={home}",
            "--syslog=stderr",
        ]
        if os.geteuid() == 0:  # spamd will not run its children as root
            home.chmod(0o777)
            cmd.append("--username=nobody")
        self.spawn(cmd, "spamd.log")
        deadline = time.monotonic() + 120  # loading the rules takes a few seconds on a busy machine
        while time.monotonic() < deadline:
            if (log := self.ended("spamd.log")) is not None:
                raise RuntimeError(f"spamd ended: {log}")
            if self._answers():
                return self
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"spamd did not answer on 127.0.0.1:{self.port}")

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=2) as s:
                s.sendall(b"PING SPAMC/1.5\r\n\r\n")
                return s.recv(100).startswith(b"SPAMD/")
        except OSError:
            return False

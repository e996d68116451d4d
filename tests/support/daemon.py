"""A server process a test starts in the foreground and ends: NSD, spamd."""

import subprocess
from pathlib import Path
from types import TracebackType
from typing import Self


class Daemon:
    root: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> Self:
        raise NotImplementedError

    def spawn(self, cmd: list[str], log_name: str) -> subprocess.Popen[bytes]:
        log = (self.root / log_name).open("wb")
        self.process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        return self.process

    def ended(self, log_name: str) -> str | None:
        """Its log's end when the process has ended (it failed to start), else None."""
        if self.process is not None and self.process.poll() is None:
            return None
        return (self.root / log_name).read_text()[-2000:]

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.stop()

"""`bulkmail serve` as a real process on a free loopback port, for tests that need the real server."""

import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.support.network import free_port
from tests.support.polling import wait_for


@contextmanager
def serving(env: Mapping[str, str], cwd: Path, quiet: bool = True) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """The process and its base URL once /healthz answers; killed on the way out if still running."""
    port = free_port()
    out = subprocess.DEVNULL if quiet else None
    proc = subprocess.Popen(
        [sys.executable, "-m", "app", "serve", "--port", str(port)], env=dict(env), cwd=cwd, stdout=out, stderr=out
    )
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        assert proc.poll() is None, "bulkmail serve exited"
        try:
            return httpx.get(f"{base}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_for(up, 30, "bulkmail serve to answer")
        yield proc, base
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

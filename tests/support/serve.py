"""`bulkmail serve` as a real process on a free loopback port, for tests that need the real server."""

import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from app.settings import Settings
from tests.support.mailstack import MailStack
from tests.support.network import free_port
from tests.support.polling import wait_for


@contextmanager
def serving(
    env: Mapping[str, str], cwd: Path, quiet: bool = True, log: Path | None = None
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """The process and its base URL once /healthz answers; killed on the way out if still running. With LOG,
    what it writes (stdout and stderr, its background process's too) goes to that file."""
    port = free_port()
    out: Any = subprocess.DEVNULL if quiet else None
    if log is not None:
        out = log.open("wb")
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
        wait_for(up, 90, "bulkmail serve to answer")  # a loaded machine takes a while to import it all
        yield proc, base
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if log is not None:
            out.close()


NOREPLY = "noreply@example.test"


def relay_env(settings: Settings, mail: MailStack, data_dir: Path) -> dict[str, str]:
    """The environment of a `bulkmail serve` (or any `bulkmail` command) on the test's database, sending
    through the real relay as NOREPLY."""
    return {
        **os.environ,
        "BULKMAIL_DATABASE_URL": settings.database_url, "BULKMAIL_SECRET_KEY": "serve-test",
        "BULKMAIL_DATA_DIR": str(data_dir),
        "BULKMAIL_BOUNCE_ADDRESS": NOREPLY, "BULKMAIL_UPLOAD_DIR": str(data_dir),
        "BULKMAIL_SMTP_HOST": mail.host, "BULKMAIL_SMTP_PORT": str(mail.submission_port),
        "BULKMAIL_SMTP_SECURITY": "starttls", "BULKMAIL_SMTP_CAFILE": mail.cafile,
        "BULKMAIL_SMTP_USERNAME": NOREPLY, "BULKMAIL_SMTP_PASSWORD": mail.users[NOREPLY],
        "BULKMAIL_WORKER_POLL_SECONDS": "0.1", "BULKMAIL_EMBEDDED_WORKER": "true", "BULKMAIL_SCHEDULER": "true",
    }  # fmt: skip

"""Real `bulkmail worker` processes for the crash and scale-out tests, and a counting smtp-sink."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from app.paths import ROOT
from app.settings import Settings

_RCPT = re.compile(rb"^X-Rcpt-Args: <([^>]*)>", re.M)


def worker_env(settings: Settings, **env: str) -> dict[str, str]:
    """This environment with BULKMAIL_* variables for SETTINGS (the sending part), like a deployment."""
    variables = {
        "BULKMAIL_DATABASE_URL": settings.database_url,
        "BULKMAIL_SECRET_KEY": settings.secret_key.get_secret_value() if settings.secret_key else "",
        "BULKMAIL_BOUNCE_ADDRESS": settings.bounce_address,
        "BULKMAIL_BASE_URL": settings.base_url,
        "BULKMAIL_SMTP_HOST": settings.smtp_host,
        "BULKMAIL_SMTP_PORT": str(settings.smtp_port),
        "BULKMAIL_SMTP_SECURITY": settings.smtp_security,
        "BULKMAIL_SMTP_CONNECTIONS": str(settings.smtp_connections),
        "BULKMAIL_SMTP_RATE": str(settings.smtp_rate),
        "BULKMAIL_SMTP_TIMEOUT": str(settings.smtp_timeout),
        "BULKMAIL_SMTP_USERNAME": settings.smtp_username or "",
        "BULKMAIL_SMTP_PASSWORD": settings.smtp_password.get_secret_value() if settings.smtp_password else "",
        "BULKMAIL_SMTP_CAFILE": settings.smtp_cafile or "",
        "BULKMAIL_RELAY_BACKOFF_SECONDS": str(settings.relay_backoff_seconds),
        "BULKMAIL_RELAY_BACKOFF_MAX_SECONDS": str(settings.relay_backoff_max_seconds),
        "BULKMAIL_WORKER_BATCH": str(settings.worker_batch),
        "BULKMAIL_WORKER_LEASE_SECONDS": str(settings.worker_lease_seconds),
        "BULKMAIL_WORKER_POLL_SECONDS": str(settings.worker_poll_seconds),
        "BULKMAIL_SCHEDULER": "false",
        "PYTHONPATH": str(ROOT),
        **env,
    }
    return {k: v for k, v in os.environ.items() if not k.startswith("BULKMAIL_")} | variables


def start_worker(settings: Settings, log: Path, **env: str) -> subprocess.Popen[bytes]:
    """`python -m app worker` configured by BULKMAIL_* variables, like a deployment."""
    full_env = worker_env(settings, **env)
    out = log.open("ab")
    return subprocess.Popen([sys.executable, "-m", "app", "worker"], cwd=log.parent, env=full_env,
                            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)  # fmt: skip


def stop_worker(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def dumped_recipients(dump: Path) -> Counter[str]:
    """Recipients of every message smtp-sink accepted, from its -D dump file."""
    return Counter(m.decode() for m in _RCPT.findall(dump.read_bytes())) if dump.exists() else Counter()


@contextlib.contextmanager
def sink_dump_dir() -> Iterator[Path]:
    """smtp-sink drops root privileges, so its dump file must be where anyone can write (pytest's
    tmp_path is private to its owner)."""
    d = Path(tempfile.mkdtemp(prefix="bulkmail-sink-"))
    d.chmod(0o777)
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


__all__ = ["dumped_recipients", "sink_dump_dir", "start_worker", "stop_worker", "worker_env"]

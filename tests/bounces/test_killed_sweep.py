"""`kill -9` of a sweeping `bulkmail sweep` process, with its classifier pool running: no process it
started survives it (workers, forkserver, resource tracker), and the next sweep marks its row
`abandoned`, then sweeps the mailbox to the end."""

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from app.bounces.sweep import run_sweep
from app.main import create_app
from app.models import MailboxSweep
from app.settings import Settings
from tests.bounces.support import NOREPLY, api_headers, dsn, mailbox_settings
from tests.support.mailstack import MailStack
from tests.support.polling import wait_for

pytestmark = pytest.mark.mailstack

MESSAGES = 2500  # enough for many batches of 25: the pool is busy for seconds
ROOT = Path(__file__).resolve().parents[2]


def _marked(marker: str) -> dict[int, str]:
    """pid -> command line of every live process whose environment carries MARKER."""
    needle = f"BULKMAIL_TEST_MARK={marker}".encode()
    found: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if needle not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            if (entry / "stat").read_text().rpartition(")")[2].split()[0] == "Z":
                continue  # a zombie is dead: only its parent's wait is missing
            found[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue  # gone meanwhile
    return found


def _at_least(count: int, marker: str) -> dict[int, str] | None:
    found = _marked(marker)
    return found if len(found) >= count else None


def _sweep_env(settings: Settings, mail: MailStack, marker: str) -> dict[str, str]:
    return {
        **os.environ,
        "BULKMAIL_TEST_MARK": marker,
        "BULKMAIL_DATABASE_URL": settings.database_url,
        "BULKMAIL_SECRET_KEY": "test-secret-key",
        "BULKMAIL_BOUNCE_ADDRESS": NOREPLY,
        "BULKMAIL_MAILBOX_HOST": mail.host,
        "BULKMAIL_MAILBOX_PORT": str(mail.imap_port),
        "BULKMAIL_MAILBOX_SECURITY": "starttls",
        "BULKMAIL_MAILBOX_USER": NOREPLY,
        "BULKMAIL_MAILBOX_PASSWORD": mail.users[NOREPLY],
        "BULKMAIL_MAILBOX_CAFILE": mail.cafile,
        "BULKMAIL_MAILBOX_BATCH": "25",
        "BULKMAIL_SWEEP_PROCESSES": "2",
    }


def _sweeps(engine: Engine) -> list[MailboxSweep]:
    with Session(engine) as session:
        return list(session.exec(select(MailboxSweep).order_by(MailboxSweep.id)))  # type: ignore[arg-type]


def test_killed_sweep_leaves_no_process_and_its_row_is_abandoned(
    mail: MailStack, settings: Settings, engine: Engine
) -> None:
    for i in range(MESSAGES):
        mail.deliver(NOREPLY, dsn(NOREPLY, f"gone{i}@remote.test", "5.1.1", diagnostic="550 5.1.1 user unknown"))
    marker = uuid.uuid4().hex
    sweeper = subprocess.Popen(
        [sys.executable, "-m", "app", "sweep"],
        env=_sweep_env(settings, mail, marker),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        # the sweeper, the forkserver, the resource tracker and two classifier workers
        started = wait_for(lambda: _at_least(5, marker), 60, "the classifier pool")
        running = [s for s in _sweeps(engine) if s.state == "running"]
        assert sweeper.poll() is None and len(running) == 1, "killed in the middle of the sweep"
        os.kill(sweeper.pid, signal.SIGKILL)
        sweeper.wait(10)
    finally:
        if sweeper.poll() is None:
            sweeper.kill()
            sweeper.wait(10)
        assert sweeper.stderr is not None
        sweeper.stderr.close()

    deadline = time.monotonic() + 10
    while (left := _marked(marker)) and time.monotonic() < deadline:
        time.sleep(0.1)
    for pid in left:  # clean up what the bug leaves behind, then fail naming it
        os.kill(pid, signal.SIGKILL)
    assert not left, f"processes outlived the killed sweeper (of {sorted(started)}): {left}"

    box = mailbox_settings(settings, mail, mailbox_batch=500, sweep_processes=1)
    # PostgreSQL frees the advisory lock once it notices the dead connection
    nxt = wait_for(lambda: run_sweep(box, engine, trigger="cli"), 10, "the next sweep to take the lock")
    assert nxt.state == "done", nxt.error
    old, new = _sweeps(engine)
    assert (old.state, new.id) == ("abandoned", nxt.id)
    assert old.error and f"pid {sweeper.pid}" in old.error
    assert nxt.seen + old.seen <= MESSAGES and len(mail.messages(NOREPLY)) == 0
    # the sweep log says so, naming the process that ran it
    with TestClient(create_app(box), headers=api_headers(engine)) as client:
        log = client.get("/api/v1/sweeps").json()["items"]
    assert [(s["id"], s["state"]) for s in log] == [(new.id, "done"), (old.id, "abandoned")]
    assert log[1]["owner"].endswith(f":{sweeper.pid}") and log[0]["owner"].endswith(f":{os.getpid()}")

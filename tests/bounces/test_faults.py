"""Faults with the real servers: Dovecot dies in the middle of a sweep, and two sweeps start at once."""

import os
import subprocess
import sys
import threading

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func
from sqlmodel import Session, select

from app.bounces import sweep as sweep_module
from app.bounces.sweep import run_sweep
from app.main import create_app
from app.models import Bounce, ProcessedMessage
from app.settings import Settings
from tests.bounces.support import NOREPLY, api_headers, dsn, mailbox_settings, plain_mail, seed_campaign
from tests.support.mailstack import MailStack

pytestmark = pytest.mark.mailstack

ADDRESSES = [f"user{i}@remote.test" for i in range(6)]


def _fill_mailbox(mail: MailStack, settings: Settings, engine: Engine, session: Session) -> bytes:
    sent = seed_campaign(session, settings, engine, ADDRESSES)
    for d in sent.deliveries.values():
        mail.deliver(NOREPLY, dsn(f"noreply+{d.verp_token}@example.test", d.email, "5.1.1"))
    human = plain_mail("reader@remote.test", NOREPLY, "question", "Is there a sale next week?")
    mail.deliver(NOREPLY, human)
    return human


def _count(session: Session, model: type) -> int:
    n = session.exec(select(func.count()).select_from(model)).one()
    session.commit()  # SQLite: release the write lock
    return n


@pytest.mark.parametrize("protocol", ["imap", "pop3"])
def test_dovecot_stopped_mid_sweep_loses_nothing_and_the_next_sweep_finishes(
    mail: MailStack,
    settings: Settings,
    engine: Engine,
    session: Session,
    protocol: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    human = _fill_mailbox(mail, settings, engine, session)
    box_settings = mailbox_settings(settings, mail, protocol, mailbox_batch=2)
    real_batch = sweep_module._Sweeper._batch

    def batch_then_stop_dovecot(self, messages):  # type: ignore[no-untyped-def]
        result = real_batch(self, messages)
        mail.stop_dovecot()  # after the first batch is committed, before its messages are deleted
        return result

    monkeypatch.setattr(sweep_module._Sweeper, "_batch", batch_then_stop_dovecot)
    broken = run_sweep(box_settings, engine, trigger="cli")
    monkeypatch.undo()

    assert broken is not None and broken.state == "failed"
    assert broken.errors == 1 and broken.error and box_settings.mailbox_host in broken.error
    assert "secret" not in broken.error
    assert (broken.recorded, broken.deleted) == (2, 0)
    mail.start_dovecot()
    assert len(mail.messages(NOREPLY)) == 7, "nothing was deleted"

    finished = run_sweep(box_settings, engine, trigger="cli")
    assert finished is not None and finished.state == "done", finished and finished.error
    assert (finished.seen, finished.recorded, finished.deleted, finished.kept) == (7, 4, 6, 1)
    assert _count(session, Bounce) == 6, "the first batch was not recorded twice"
    assert _count(session, ProcessedMessage) == 6
    assert mail.messages(NOREPLY) == [human]


def test_two_sweeps_at_once_only_one_runs(
    mail: MailStack, settings: Settings, engine: Engine, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fill_mailbox(mail, settings, engine, session)
    box_settings = mailbox_settings(settings, mail)
    inside, release = threading.Event(), threading.Event()
    real_batch = sweep_module._Sweeper._batch

    def held_batch(self, messages):  # type: ignore[no-untyped-def]
        inside.set()
        assert release.wait(30)
        return real_batch(self, messages)

    monkeypatch.setattr(sweep_module._Sweeper, "_batch", held_batch)
    results: list[object] = []
    first = threading.Thread(target=lambda: results.append(run_sweep(box_settings, engine, trigger="cli")))
    first.start()
    try:
        assert inside.wait(30)
        # same process, another thread
        assert run_sweep(box_settings, engine, trigger="cli") is None
        # the API
        with TestClient(create_app(box_settings), headers=api_headers(engine)) as client:
            response = client.post("/api/v1/sweeps")
        assert response.status_code == 409 and "another sweep is running" in response.json()["detail"]
        # another process: the `bulkmail sweep` command
        env = {
            **os.environ,
            "BULKMAIL_DATABASE_URL": settings.database_url,
            "BULKMAIL_SECRET_KEY": "test-secret-key",
            "BULKMAIL_MAILBOX_HOST": mail.host,
            "BULKMAIL_MAILBOX_PORT": str(mail.imap_port),
            "BULKMAIL_MAILBOX_SECURITY": "starttls",
            "BULKMAIL_MAILBOX_USER": NOREPLY,
            "BULKMAIL_MAILBOX_PASSWORD": mail.users[NOREPLY],
            "BULKMAIL_MAILBOX_CAFILE": mail.cafile,
        }
        other = subprocess.run(
            [sys.executable, "-m", "app", "sweep"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))),
        )
        assert other.returncode == 3, other.stderr
        assert "another sweep is running" in other.stderr
    finally:
        release.set()
        first.join(30)
    (done,) = results
    assert done is not None and done.state == "done" and done.recorded == 6
    assert _count(session, Bounce) == 6

"""A classifier worker process that dies in the middle of a sweep: the sweep fails with a reason, and
nothing leaves the mailbox that was not recorded; the next sweep records the rest, nothing twice."""

import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, select

from app.bounces import sweep as sweep_module
from app.bounces.sweep import run_sweep
from app.models import Bounce, ProcessedMessage
from app.settings import Settings
from tests.bounces import crashing_classifier
from tests.bounces.support import NOREPLY, dsn, mailbox_settings, original_headers, return_path, seed_campaign
from tests.support.mailstack import MailStack

pytestmark = pytest.mark.mailstack

ADDRESSES = [f"gone{i}@example.test" for i in range(6)]


def test_a_crashed_classifier_process_deletes_nothing_unrecorded(
    mail: MailStack, settings: Settings, engine: Engine, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent = seed_campaign(session, settings, engine, ADDRESSES)
    reports = []
    for n, address in enumerate(ADDRESSES):
        d = sent.by(address)
        report = dsn(return_path(settings, engine, d), address, "5.1.1", returned=original_headers(sent, d))
        if n == 3:  # the second batch of two
            report = report.replace(b"MIME-Version:", b"X-Crash-Classifier: yes\r\nMIME-Version:", 1)
        reports.append(report)
        mail.deliver(NOREPLY, report)
    box = mailbox_settings(settings, mail, mailbox_batch=2, sweep_processes=2)
    monkeypatch.setattr(sweep_module, "classify", crashing_classifier.classify)

    failed = run_sweep(box, engine, trigger="cli")

    assert failed is not None and failed.state == "failed"
    assert failed.error and "imap://" in failed.error
    assert failed.deleted == 0  # nothing expunged: the deletions become final only when a sweep ends well
    session.expire_all()
    recorded = session.exec(select(func.count()).select_from(ProcessedMessage)).one()
    assert 0 < recorded < len(ADDRESSES)
    assert failed.recorded == recorded
    assert sorted(mail.messages(NOREPLY)) == sorted(reports)  # every message still there
    session.rollback()  # on SQLite a transaction holds the write lock the next sweep needs

    monkeypatch.setattr(sweep_module, "classify", crashing_classifier.real_classify)
    done = run_sweep(box, engine, trigger="cli")

    assert done is not None and done.state == "done", done and done.error
    assert mail.messages(NOREPLY) == []
    session.expire_all()
    assert session.exec(select(func.count()).select_from(ProcessedMessage)).one() == len(ADDRESSES)
    assert sorted(b.email for b in session.exec(select(Bounce))) == sorted(ADDRESSES)

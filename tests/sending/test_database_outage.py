"""The database goes away mid-campaign while no process dies: PostgreSQL (a cluster of the test's own)
stopped for 10 s under two worker processes, and SQLite locked past its busy timeout. The workers keep
the results the relay already accepted and write them when the database is back: every recipient gets
exactly one copy, counted where the mail arrives."""

import logging
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, make_url
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

import app.db
from app.db import make_engine
from app.migrate import upgrade
from app.models import Campaign, utcnow
from app.sending import campaigns as service
from app.settings import Settings
from tests.sending.conftest import bulk_list, campaign_state, make_campaign, relay_settings, worker_running
from tests.sending.sink import Sink, SinkServer
from tests.sending.workers import dumped_recipients, sink_dump_dir, start_worker, stop_worker
from tests.support.mailstack import smtp_sink
from tests.support.network import free_port
from tests.support.pgcluster import PgCluster
from tests.support.polling import wait_for

pytestmark = pytest.mark.slow


def _launch(engine: Engine, settings: Settings, n: int) -> int:
    list_id = bulk_list(engine, "everyone", n)
    with Session(engine) as session:
        campaign = make_campaign(session, [list_id], html_template="<p>Hi {{ first_name }}</p>", text_template="")
        service.launch(session, campaign, settings, utcnow())
        session.commit()
        assert campaign.state == "sending"
        return campaign.id  # type: ignore[return-value]


def _completed_when_readable(engine: Engine, campaign_id: int) -> bool:
    try:
        return campaign_state(engine, campaign_id) == "completed"
    except OperationalError:  # this test's own reads wait only a second for the lock too
        return False


@pytest.fixture
def own_postgres() -> Iterator[PgCluster]:
    with PgCluster() as cluster:
        yield cluster


def test_postgresql_stopped_10s_mid_campaign_loses_nobody_and_sends_nobody_twice(
    own_postgres: PgCluster, tmp_path: Path
) -> None:
    url = own_postgres.create_database("bulkmail")
    engine = make_engine(url)
    upgrade(engine)
    n, port = 3000, free_port()
    base = Settings(_env_file=None, database_url=url, secret_key="test-secret-key", base_url="http://testserver",
                    embedded_worker=False, scheduler=False, bounce_address="noreply@example.test")  # fmt: skip
    # the lease outlasts the outage, so rows held by a worker never come due under another one
    s = relay_settings(base, port, smtp_rate=150.0, worker_batch=100, worker_lease_seconds=30,
                       worker_poll_seconds=0.1, smtp_connections=2)  # fmt: skip
    campaign_id = _launch(engine, s, n)
    with sink_dump_dir() as d, smtp_sink(port, 256, "-D", str(d / "dump.txt")):
        dump = d / "dump.txt"
        workers = [start_worker(s, tmp_path / f"worker{i}.log") for i in range(2)]
        try:
            wait_for(lambda: sum(dumped_recipients(dump).values()) >= 600, 60, "the workers to get going")
            own_postgres.stop()
            time.sleep(10)
            sent_during_outage = sum(dumped_recipients(dump).values())
            own_postgres.start()
            wait_for(lambda: campaign_state(engine, campaign_id) == "completed", 120, "the campaign to complete")
        finally:
            for w in workers:
                stop_worker(w)
            engine.dispose()
        got = dumped_recipients(dump)
    assert sent_during_outage < n, "the campaign finished before the outage; slow it down"
    assert set(got) == {f"r{i}@sink.test" for i in range(n)}  # nobody lost
    assert {a: c for a, c in got.items() if c > 1} == {}  # nobody twice
    logs = "".join((tmp_path / f"worker{i}.log").read_text() for i in range(2))
    assert "database unavailable" in logs  # the outage did hit the workers
    assert "restarting" not in logs  # and none of them started afresh, dropping what it held


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_sqlite_locked_past_its_busy_timeout_mid_campaign_loses_nobody_and_sends_nobody_twice(
    settings: Settings, engine: Engine, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    n = 600
    # a second's patience instead of 30, so a lock of a few seconds makes the worker's writes fail
    monkeypatch.setattr(app.db, "SQLITE_BUSY_TIMEOUT_MS", 1000)
    impatient = make_engine(settings.database_url)
    path = make_url(settings.database_url).database
    with SinkServer(sink := Sink()) as server:
        s = relay_settings(settings, server.port, smtp_rate=100.0, worker_batch=50, worker_lease_seconds=20)
        campaign_id = _launch(engine, s, n)

        def hold_the_lock() -> None:
            wait_for(lambda: sum(sink.counts().values()) >= 150, 30, "the worker to get going")
            other = sqlite3.connect(str(path), isolation_level=None)
            other.execute("BEGIN EXCLUSIVE")  # another process writing for 4 s
            time.sleep(4)
            other.execute("COMMIT")
            other.close()

        locker = threading.Thread(target=hold_the_lock, daemon=True)
        caplog.set_level(logging.WARNING, logger="app.sending")
        with worker_running(s, impatient):
            locker.start()
            wait_for(lambda: _completed_when_readable(engine, campaign_id), 90, "the campaign to complete")
        locker.join(10)
        impatient.dispose()
    counts = sink.counts()
    assert set(counts) == {f"r{i}@sink.test" for i in range(n)}
    assert {a: c for a, c in counts.items() if c > 1} == {}
    assert any("database unavailable" in r.getMessage() for r in caplog.records)
    assert not any("restarting" in r.getMessage() for r in caplog.records)
    with Session(engine) as session:
        assert session.get(Campaign, campaign_id).state == "completed"  # type: ignore[union-attr]

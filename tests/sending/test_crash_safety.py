"""Real worker processes: kill -9 in the middle of a campaign loses nobody, and four workers sharing
PostgreSQL send to every recipient exactly once."""

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import Session

from app.models import Campaign, utcnow
from app.sending import campaigns as service
from app.sending.worker import MAX_BATCHES_IN_FLIGHT
from tests.sending.conftest import bulk_list, campaign_state, make_campaign, relay_settings
from tests.sending.workers import dumped_recipients, sink_dump_dir, start_worker, stop_worker
from tests.support.mailstack import smtp_sink
from tests.support.network import free_port
from tests.support.polling import wait_for

pytestmark = pytest.mark.slow


def _launch(engine, settings, n: int) -> int:  # type: ignore[no-untyped-def]
    list_id = bulk_list(engine, "everyone", n)
    with Session(engine) as session:
        campaign = make_campaign(session, [list_id], html_template="<p>Hi {{ first_name }}</p>", text_template="")
        service.launch(session, campaign, settings, utcnow())
        session.commit()
        assert campaign.state == "sending"
        return campaign.id  # type: ignore[return-value]


@pytest.fixture
def sink_dir() -> Iterator[Path]:
    with sink_dump_dir() as d:
        yield d


def test_kill_9_mid_campaign_loses_nobody_and_duplicates_stay_within_the_batch_in_flight(
    settings, engine, tmp_path: Path, sink_dir: Path
) -> None:
    n, batch = 2000, 50
    dump = Path(sink_dir) / "dump.txt"
    port = free_port()
    s = relay_settings(settings, port, smtp_rate=500.0, worker_batch=batch, worker_lease_seconds=2,
                       worker_poll_seconds=0.1, smtp_connections=2)  # fmt: skip
    campaign_id = _launch(engine, s, n)
    with smtp_sink(port, 256, "-D", str(dump)):
        first = start_worker(s, tmp_path / "worker1.log")
        try:
            wait_for(lambda: sum(dumped_recipients(dump).values()) >= 600, 60, "the first worker to get going")
        finally:
            os.kill(first.pid, signal.SIGKILL)
            first.wait()
        before_restart = dumped_recipients(dump)
        assert sum(before_restart.values()) < n, "the campaign finished before the kill; slow it down"
        second = start_worker(s.model_copy(update={"smtp_rate": 0.0}), tmp_path / "worker2.log")
        try:
            wait_for(lambda: campaign_state(engine, campaign_id) == "completed", 60, "the campaign to complete")
        finally:
            stop_worker(second)
        time.sleep(0.2)
        got = dumped_recipients(dump)
    everyone = {f"r{i}@sink.test" for i in range(n)}
    assert set(got) == everyone  # nobody lost
    duplicates = {addr for addr, count in got.items() if count > 1}
    assert all(got[a] == 2 for a in duplicates)
    # a second copy only for messages the killed worker had in flight (sent, result not yet recorded)
    assert duplicates <= set(before_restart)
    assert len(duplicates) <= MAX_BATCHES_IN_FLIGHT * batch
    with Session(engine) as session:
        c = session.get(Campaign, campaign_id)
        assert c is not None and c.state == "completed"


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_four_workers_on_postgresql_send_every_recipient_exactly_once(
    settings, engine, tmp_path: Path, sink_dir: Path
) -> None:
    n = 20_000
    dump = Path(sink_dir) / "dump.txt"
    port = free_port()
    s = relay_settings(settings, port, worker_batch=200, worker_lease_seconds=60, worker_poll_seconds=0.1,
                       smtp_connections=2)  # fmt: skip
    campaign_id = _launch(engine, s, n)
    with smtp_sink(port, 256, "-D", str(dump)):
        workers = [start_worker(s, tmp_path / f"worker{i}.log") for i in range(4)]
        try:
            wait_for(lambda: campaign_state(engine, campaign_id) == "completed", 120, "the campaign to complete")
        finally:
            for w in workers:
                stop_worker(w)
        got = dumped_recipients(dump)
    assert len(got) == n and set(got.values()) == {1}
    logs = [(tmp_path / f"worker{i}.log").read_text() for i in range(4)]
    assert sum("sending worker started" in log for log in logs) == 4

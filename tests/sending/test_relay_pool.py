"""Several relays, real SMTP servers (Postfix's smtp-sink, recording every message): weights share a
campaign, and a relay that stops moves its share to the other with nothing sent twice or lost."""

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlmodel import Session, col

from app.models import Campaign, Delivery, Relay, utcnow
from app.sending import campaigns as service
from app.sending import relays
from app.sending.relay_schemas import RelayCreate
from app.settings import Settings
from tests.sending.conftest import bulk_list, make_campaign, make_list, relay_settings, run_worker_until, worker_running
from tests.sending.sink import Sink, SinkServer
from tests.sending.workers import dumped_recipients, sink_dump_dir
from tests.support.mailstack import smtp_sink
from tests.support.network import free_port
from tests.support.polling import wait_for

pytestmark = pytest.mark.slow
N = 400


@pytest.fixture
def sink_dir() -> Iterator[Path]:
    with sink_dump_dir() as d:
        yield d


def _relay(session: Session, settings: Settings, name: str, port: int, weight: int, rate: float) -> None:
    body = RelayCreate(name=name, host="127.0.0.1", port=port, security="none", weight=weight, rate=rate,
                       connections=2)  # fmt: skip
    relays.create(session, settings, body)
    session.commit()


def _launch(engine: Engine, settings: Settings) -> int:
    list_id = bulk_list(engine, "everyone", N)
    with Session(engine) as session:
        campaign = make_campaign(session, [list_id], html_template="<p>Hi {{ first_name }}</p>", text_template="")
        service.launch(session, campaign, settings, utcnow())
        session.commit()
        assert campaign.id is not None
        return campaign.id


def _completed(engine: Engine, campaign_id: int) -> bool:
    with Session(engine) as session:
        campaign = session.get(Campaign, campaign_id)
        return campaign is not None and campaign.state == "completed"


def _sent(engine: Engine, campaign_id: int) -> int:
    with Session(engine) as session:
        query = select(func.count()).where(col(Delivery.campaign_id) == campaign_id, col(Delivery.state) == "sent")
        return int(session.execute(query).scalar_one())


def _settings(settings: Settings) -> Settings:
    # the settings' own relay points nowhere: with relays stored, it is not used
    return relay_settings(settings, free_port(), relay_backoff_seconds=0.2, relay_backoff_max_seconds=1.0,
                          worker_batch=50)  # fmt: skip


def _two_relays(settings: Settings, sink_dir: Path) -> tuple[Settings, tuple[int, int], tuple[Path, Path]]:
    """The settings, and the port and dump file of each of two smtp-sinks."""
    return _settings(settings), (free_port(), free_port()), (sink_dir / "a.txt", sink_dir / "b.txt")


def _everyone_once(a: Counter[str], b: Counter[str]) -> None:
    both = a + b
    assert set(both) == {f"r{i}@sink.test" for i in range(N)}, "someone was not sent to"
    assert [r for r, n in both.items() if n > 1] == [], "someone got the message twice"


def test_weights_three_to_one_share_a_campaign(settings: Settings, engine: Engine, sink_dir: Path) -> None:
    s, (port_a, port_b), (dump_a, dump_b) = _two_relays(settings, sink_dir)
    with Session(engine) as session:
        _relay(session, s, "big", port_a, 3, 0.0)
        _relay(session, s, "small", port_b, 1, 0.0)
    campaign_id = _launch(engine, s)
    with smtp_sink(port_a, 256, "-D", str(dump_a)), smtp_sink(port_b, 256, "-D", str(dump_b)):
        with worker_running(s, engine):
            wait_for(lambda: _completed(engine, campaign_id), 120, "the campaign to complete")
        a, b = dumped_recipients(dump_a), dumped_recipients(dump_b)
    _everyone_once(a, b)
    share = sum(a.values()) / N
    assert 0.70 <= share <= 0.80, f"the relay of weight 3 took {share:.1%}, not 75 % ± 5"
    assert _sent(engine, campaign_id) == N
    with Session(engine) as session:
        states = {r.name: relays.public(r).state for r in session.exec(select(Relay)).scalars()}
    assert states == {"big": "up", "small": "up"}


def test_a_relay_stopped_mid_campaign_moves_its_share_to_the_other(
    settings: Settings, engine: Engine, sink_dir: Path
) -> None:
    s, (port_a, port_b), (dump_a, dump_b) = _two_relays(settings, sink_dir)
    with Session(engine) as session:
        _relay(session, s, "big", port_a, 3, 60.0)  # rates slow the campaign down enough to stop one mid-way
        _relay(session, s, "small", port_b, 1, 20.0)
    campaign_id = _launch(engine, s)
    with smtp_sink(port_b, 256, "-D", str(dump_b)):
        with smtp_sink(port_a, 256, "-D", str(dump_a)) as big, worker_running(s, engine):
            wait_for(lambda: sum(dumped_recipients(dump_a).values()) >= 60, 60, "the big relay to take some")
            big.process.terminate()  # the relay of weight 3 goes away mid-campaign
            big.process.wait()
            wait_for(lambda: _completed(engine, campaign_id), 180, "the campaign to complete on the other relay")
        a, b = dumped_recipients(dump_a), dumped_recipients(dump_b)
    _everyone_once(a, b)
    assert sum(a.values()) < N * 0.5, "the stopped relay cannot have taken its whole share"
    assert sum(b.values()) > N * 0.5, "the other relay took over the stopped one's share"
    assert _sent(engine, campaign_id) == N
    with Session(engine) as session:
        big_row = session.exec(select(Relay).where(Relay.name == "big")).scalars().one()
        shown = relays.public(big_row)
        campaign = session.get(Campaign, campaign_id)
    assert shown.state == "down" and shown.down_since is not None
    assert shown.last_error is not None and "refused" in shown.last_error, shown.last_error
    assert "Errno" not in shown.last_error  # words, not an exception's text
    assert campaign is not None and campaign.paused_reason is None and campaign.relay_unreachable_since is None


def test_a_relay_added_mid_campaign_takes_its_share(settings: Settings, engine: Engine, sink_dir: Path) -> None:
    s, (port_a, port_b), (dump_a, dump_b) = _two_relays(settings, sink_dir)
    with Session(engine) as session:
        _relay(session, s, "first", port_a, 1, 30.0)
    campaign_id = _launch(engine, s)
    with smtp_sink(port_a, 256, "-D", str(dump_a)), smtp_sink(port_b, 256, "-D", str(dump_b)):
        with worker_running(s, engine):
            wait_for(lambda: sum(dumped_recipients(dump_a).values()) >= 20, 60, "the first relay to take some")
            with Session(engine) as session:
                _relay(session, s, "second", port_b, 1, 30.0)
            wait_for(lambda: _completed(engine, campaign_id), 180, "the campaign to complete")
        a, b = dumped_recipients(dump_a), dumped_recipients(dump_b)
    _everyone_once(a, b)
    assert sum(b.values()) >= N * 0.1, "the relay added mid-campaign took part"
    assert _sent(engine, campaign_id) == N


def test_a_relay_refusing_the_login_hands_its_messages_to_the_other(settings: Settings, engine: Engine) -> None:
    s = _settings(settings)
    n = 40
    with SinkServer(Sink(), users={"noreply": "right"}) as strict, SinkServer(Sink()) as open_relay:
        with Session(engine) as session:
            body = RelayCreate(name="strict", host="127.0.0.1", port=strict.port, security="none", weight=3,
                               username="noreply", password="wrong")  # fmt: skip
            relays.create(session, s, body)
            _relay(session, s, "open", open_relay.port, 1, 0.0)
            lst = make_list(session, "few", [(f"p{i}@example.test", f"P{i}", {"city": "Bonn"}) for i in range(n)])
            campaign = make_campaign(session, [lst.id])
            service.launch(session, campaign, s, utcnow())
            session.commit()
            campaign_id = campaign.id
        assert campaign_id is not None
        run_worker_until(s, engine, lambda: _completed(engine, campaign_id), timeout=120)
        assert strict.sink.counts() == {}
        assert open_relay.sink.counts() == {f"p{i}@example.test": 1 for i in range(n)}
    with Session(engine) as session:
        shown = relays.public(session.exec(select(Relay).where(Relay.name == "strict")).scalars().one())
        paused = session.get(Campaign, campaign_id)
    assert shown.state == "down" and shown.last_error is not None and "authentication failed" in shown.last_error
    assert "wrong" not in shown.last_error  # never the password
    assert paused is not None and paused.paused_reason is None and _sent(engine, campaign_id) == n

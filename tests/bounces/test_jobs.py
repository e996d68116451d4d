"""The scheduled sweep follows the mailbox and interval saved on the settings page, at once, in
every process: a tick decides from the sweep log whether a sweep is due."""

from datetime import timedelta

from sqlalchemy import Engine
from sqlmodel import Session, select

from app.bounces.sweep import sweep_if_due
from app.config_store import save_settings
from app.models import MailboxSweep, utcnow
from app.settings import Settings
from tests.sending.guard_support import sending_campaign


def _sweeps(engine: Engine) -> list[MailboxSweep]:
    with Session(engine) as s:
        return list(s.exec(select(MailboxSweep).order_by(MailboxSweep.id)))


def test_the_sweep_runs_when_its_saved_interval_has_passed(settings: Settings, engine: Engine) -> None:
    now = utcnow()
    assert sweep_if_due(settings, engine, now) is False, "no mailbox configured: nothing to sweep"
    # a mailbox saved on the settings page (nothing listens on port 9: the sweep fails, and is logged)
    save_settings(engine, {"mailbox_host": "127.0.0.1", "mailbox_port": 9, "mailbox_security": "none",
                           "sweep_interval_minutes": 7})  # fmt: skip
    assert sweep_if_due(settings, engine, now) is True
    assert [(s.trigger, s.state) for s in _sweeps(engine)] == [("schedule", "failed")]
    started = _sweeps(engine)[0].started_at
    assert sweep_if_due(settings, engine, started + timedelta(minutes=6)) is False
    save_settings(engine, {"sweep_interval_minutes": 5})  # a shorter interval applies without a restart
    assert sweep_if_due(settings, engine, started + timedelta(minutes=6)) is True
    save_settings(engine, {"sweep_interval_minutes": 0})  # 0 switches scheduled sweeps off
    assert sweep_if_due(settings, engine, started + timedelta(days=1)) is False
    assert len(_sweeps(engine)) == 2


def test_while_a_campaign_sends_the_sweep_comes_at_least_every_guard_sweep_minutes(
    settings: Settings, engine: Engine, session: Session
) -> None:
    """Its DSNs and complaints reach the deliverability guard through the sweep."""
    save_settings(engine, {"mailbox_host": "127.0.0.1", "mailbox_port": 9, "mailbox_security": "none",
                           "sweep_interval_minutes": 30})  # fmt: skip
    assert sweep_if_due(settings, engine, utcnow()) is True
    started = _sweeps(engine)[0].started_at
    assert sweep_if_due(settings, engine, started + timedelta(minutes=3)) is False, "nothing sending: 30 min"
    sending_campaign(session)
    session.rollback()
    assert sweep_if_due(settings, engine, started + timedelta(minutes=3)) is True, "sending: every 2 min"

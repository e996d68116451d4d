"""Settings saved on the web page reach the worker and the sweep without editing env vars."""

import pytest
from sqlmodel import Session

from app.bounces.sweep import run_sweep
from app.config_store import SettingsInvalid, live_settings, save_settings
from app.models import StoredSetting, utcnow
from app.sending import campaigns as service
from tests.sending.conftest import campaign_state, make_campaign, make_list, relay_settings, run_worker_until
from tests.sending.sink import Sink, SinkServer
from tests.support.network import free_port


def test_saved_values_override_the_environment_and_bad_ones_are_refused_whole(settings, engine):
    assert live_settings(settings, engine) == settings
    with pytest.raises(SettingsInvalid) as caught:
        save_settings(engine, {"smtp_port": "70000", "smtp_security": "ssl", "mailbox_host": "imap.example.test"})
    assert set(caught.value.errors) == {"smtp_port", "smtp_security"}
    assert live_settings(settings, engine).mailbox_host is None, "nothing is stored when a value is bad"
    save_settings(engine, {"smtp_port": "2525", "mailbox_port": "", "sweep_interval_minutes": "5"})
    live = live_settings(settings, engine)
    assert (live.smtp_port, live.mailbox_port, live.sweep_interval_minutes) == (2525, None, 5)
    assert live.database_url == settings.database_url


def test_the_guard_thresholds_are_saved_checked_and_read_by_every_caller(settings, engine):
    with pytest.raises(SettingsInvalid) as caught:
        save_settings(engine, {"guard_bounce_pause_percent": "150", "guard_complaint_warn_percent": "0.5",
                               "guard_complaint_pause_percent": "0.3", "guard_min_messages": "0"})  # fmt: skip
    assert caught.value.errors == {
        "guard_bounce_pause_percent": "must be between 0 and 100",
        "guard_min_messages": "must be between 1 and 100000",
        "guard_complaint_warn_percent": "must not be above the pause threshold",
    }
    save_settings(engine, {"guard_bounce_pause_percent": "20", "guard_min_messages": "1000"})
    live = live_settings(settings, engine)
    assert (live.guard_bounce_pause_percent, live.guard_min_messages, live.guard_complaint_pause_percent) == (
        20.0,
        1000,
        0.3,
    )


def test_the_generated_token_key_is_never_laid_over_settings(settings, engine):
    with Session(engine) as s:
        s.add(StoredSetting(key="secret_key", value="from-the-database", updated_at=utcnow()))
        s.commit()
    assert live_settings(settings, engine).secret_key.get_secret_value() == "test-secret-key"


def test_the_worker_sends_through_the_relay_saved_on_the_settings_page(settings, engine, session):
    dead_port = free_port()  # the environment's relay: nothing listens there
    with SinkServer(Sink()) as server:
        save_settings(engine, {"smtp_host": "127.0.0.1", "smtp_port": str(server.port)})
        lst = make_list(session, "team", [("ann@example.com", "Ann", {"city": "Oslo"})])
        campaign = make_campaign(session, [lst.id])
        service.launch(session, campaign, settings, utcnow())
        session.commit()
        run_worker_until(relay_settings(settings, dead_port), engine,
                         lambda: campaign_state(engine, campaign.id) == "completed")  # fmt: skip
        assert [m.rcpt for m in server.sink.accepted] == ["ann@example.com"]


def test_the_sweep_uses_the_mailbox_saved_on_the_settings_page(settings, engine):
    port = free_port()
    save_settings(engine, {"mailbox_host": "127.0.0.1", "mailbox_port": str(port), "mailbox_security": "none",
                           "mailbox_user": "noreply", "mailbox_password": "pw"})  # fmt: skip
    sweep = run_sweep(settings, engine, trigger="cli")
    assert sweep is not None and sweep.state == "failed" and f"127.0.0.1:{port}" in sweep.error

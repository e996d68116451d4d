"""`bulkmail campaign send`: create, launch and follow a campaign from the command line."""

from pathlib import Path

import pytest
from sqlalchemy import select
from sqlmodel import Session
from typer.testing import CliRunner

from app.cli import cli
from app.models import Campaign
from app.settings import get_settings
from tests.sending.conftest import make_list


@pytest.fixture
def env(settings, sink, monkeypatch):  # type: ignore[no-untyped-def]
    for key, value in {"DATABASE_URL": settings.database_url, "SECRET_KEY": "test-secret-key",
                       "BOUNCE_ADDRESS": "noreply@example.test", "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(sink.port),
                       "SMTP_SECURITY": "none", "WORKER_POLL_SECONDS": "0.05"}.items():  # fmt: skip
        monkeypatch.setenv(f"BULKMAIL_{key}", value)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_campaign_send_from_files_to_completion(env, session, engine, sink, tmp_path: Path) -> None:
    make_list(session, "members", [("ann@x.test", "Ann", {}), ("bob@x.test", "Bob", {})])
    (tmp_path / "body.html").write_text("<p>Hi {{ first_name }}</p>")
    (tmp_path / "body.txt").write_text("Hi {{ first_name }}")
    result = CliRunner().invoke(cli, ["campaign", "send", "--list", "members", "--subject", "News for {{ first_name }}",
                                      "--html", str(tmp_path / "body.html"), "--text", str(tmp_path / "body.txt")])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "completed" in result.output
    assert sink.sink.counts() == {"ann@x.test": 1, "bob@x.test": 1}
    with Session(engine) as s:
        assert s.execute(select(Campaign.state)).scalars().all() == ["completed"]


def test_campaign_send_names_a_bad_template_and_sends_nothing(env, session, sink, tmp_path: Path) -> None:
    make_list(session, "members", [("ann@x.test", "Ann", {})])
    (tmp_path / "body.txt").write_text("Hi {{ nmae }}")
    result = CliRunner().invoke(cli, ["campaign", "send", "--list", "members", "--subject", "x",
                                      "--text", str(tmp_path / "body.txt")])  # fmt: skip
    assert result.exit_code == 2 and "text_template" in result.output and "nmae" in result.output
    assert sink.sink.accepted == []


def test_campaign_send_unknown_list(env, session) -> None:  # type: ignore[no-untyped-def]
    result = CliRunner().invoke(cli, ["campaign", "send", "--list", "nope", "--subject", "x", "--text", "/dev/null"])
    assert result.exit_code != 0 and "no list named 'nope'" in result.output


def test_campaign_status_shows_rows_waiting_for_the_window_apart_from_deferred(env, session) -> None:
    from app.models import utcnow
    from app.sending import campaigns as service

    lst = make_list(session, "members", [("ann@example.test", "Ann", {})])
    night = {"days": ["sun"], "start": "03:00", "end": "03:01", "zone": "Pacific/Kiritimati"}
    campaign = Campaign(name="Night", from_address="news@example.test", subject="Hi", text_template="Hi",
                        list_ids=[lst.id], send_window=night)  # fmt: skip
    session.add(campaign)
    session.commit()
    service.launch(session, campaign, get_settings(), utcnow())
    session.commit()
    result = CliRunner().invoke(cli, ["campaign", "status", str(campaign.id)])
    assert result.exit_code == 0, result.output
    assert "waiting for the window 1 · deferred 0" in result.output
    assert "window: sun 03:00-03:01 Pacific/Kiritimati" in result.output
    assert CliRunner().invoke(cli, ["campaign", "status", "999"]).exit_code == 2

"""`bulkmail audience` and `bulkmail why` with --segment and exclusions, as a user runs them."""

import json
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine
from sqlmodel import Session
from typer.testing import CliRunner

from app.audience.segments import store
from app.cli import cli
from app.settings import Settings, get_settings
from tests.audience.segments.conftest import World


@pytest.fixture
def run(settings: Settings, engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator:  # type: ignore[type-arg]
    monkeypatch.setenv("BULKMAIL_DATABASE_URL", settings.database_url)
    get_settings.cache_clear()
    runner = CliRunner()
    yield lambda *args: runner.invoke(cli, [str(a) for a in args])
    get_settings.cache_clear()


def test_audience_and_why_by_segment(run, session: Session, world: World) -> None:  # type: ignore[no-untyped-def]
    store.create(session, "Germans", "country = 'DE'")
    store.create(session, "Recent", "received within 3 days")
    session.commit()
    out = run("audience", "--segment", "Germans", "--exclude-segment", "Recent", "--json")
    assert out.exit_code == 0, out.output
    counts = json.loads(out.output)
    assert counts["segments"] == {"Germans": 2} and counts["included"] == 1
    assert counts["excluded_by_segment"] == {"Recent": 1}
    table = run("audience", "--list", "News", "--segment", "Germans")
    assert "segment Germans: 2" in table.output and "list News: 3" in table.output
    why = run("why", "bob@example.at", "--segment", "Germans")
    assert why.exit_code == 0 and why.output.strip() == "not in segment 'Germans': country = 'DE' is false, it is 'AT'"
    excluded = run("why", "cy@mail.de", "--segment", "Germans", "--exclude-segment", "Recent")
    assert excluded.output.startswith("excluded: in the excluded segment 'Recent': received within 3 days is true")
    unknown = run("audience", "--segment", "Nobody")
    assert unknown.exit_code != 0 and "no segment named Nobody" in unknown.output

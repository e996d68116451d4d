"""`bulkmail import`, `lists`, `audience` and `why`, run as a user would (through the Typer app)."""

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from app.cli import cli
from app.settings import Settings, get_settings
from tests.audience.conftest import DATA


@pytest.fixture
def run(settings: Settings, engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator:  # type: ignore[type-arg]
    monkeypatch.setenv("BULKMAIL_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("BULKMAIL_UPLOAD_DIR", settings.upload_dir)
    get_settings.cache_clear()
    runner = CliRunner()
    yield lambda *args: runner.invoke(cli, [str(a) for a in args])
    get_settings.cache_clear()


def test_import_lists_audience_why(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    rejects = tmp_path / "rejects.csv"
    result = run("import", DATA / "plain.csv", "--list", "News", "--rejects", rejects)
    assert result.exit_code == 0, result.output
    assert 'created list "News"' in result.output
    assert (
        "done: rows read 7, added 5, updated 0, duplicates in file 1, invalid 1, already suppressed 0" in result.output
    )
    assert 'line 6, column 1: "bob@@example.com" is not a valid address' in result.output
    # the last line: the rows read, the command's time and their quotient
    found = re.fullmatch(r"7 rows in ([\d.]+) s \(([\d,]+) rows/s\)", result.output.splitlines()[-1])
    assert found, result.output
    seconds, rate = float(found[1]), int(found[2].replace(",", ""))
    assert seconds >= 0 and abs(rate * seconds - 7) <= rate * 0.05 + 1  # seconds are rounded to 0.1 (a quick one: 0.0)
    assert (
        rejects.read_text().splitlines()[1]
        == 'plain.csv,6,1,bob@@example.com,"""bob@@example.com"" is not a valid address"'
    )
    assert run("import", DATA / "contacts40.vcf", "--list", "VIP").exit_code == 0

    lists = run("lists").output
    assert "News" in lists and "5 members" in lists and "3 members" in lists

    audience = run("audience", "--list", "News", "--list", "VIP").output
    assert "candidates               8" in audience and "= included               8" in audience

    assert run("why", "carol@example.com").output.startswith('included: in list "News" via csv import 1 (plain.csv)')
    assert run("audience", "--list", "Nope").exit_code == 2


def test_import_failure_exits_non_zero(run) -> None:  # type: ignore[no-untyped-def]
    result = run("import", DATA / "no_address_column.csv", "--list", "L")
    assert result.exit_code == 1 and "no address column" in result.output
    # a chosen column without a single address is refused before anything is imported
    mapped = run("import", DATA / "no_address_column.csv", "--list", "L", "--email-column", "city")
    assert mapped.exit_code == 1 and 'no address in the address column ("city") in the first 2 rows' in mapped.output
    assert run("import", DATA / "plain.csv", "--list", "L", "--format", "xls").exit_code == 2


def test_outlook_export_primary_address_and_secondary_only_when_asked(run) -> None:  # type: ignore[no-untyped-def]
    result = run("import", DATA / "outlook_export.csv", "--list", "Outlook")
    assert "done: rows read 2000, added 1840, updated 0, duplicates in file 6, invalid 154" in result.output
    result = run("import", DATA / "outlook_export.csv", "--list", "Outlook", "--also-email-column", "E-mail 2 Address")
    assert "done: rows read 2000, added 429, updated 1840, duplicates in file 6, invalid 44" in result.output

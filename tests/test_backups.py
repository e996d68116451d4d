"""`bulkmail backup` and `bulkmail restore`: a backup restored into an empty database sends its campaign through
the real relay; a database that holds data is replaced only with --force; clear errors otherwise."""

import email
import email.policy
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import Engine, select
from sqlmodel import Session
from typer.testing import CliRunner

import app.db
from app.backups.postgres import _explain
from app.cli import cli
from app.models import AuditEntry, Campaign, Contact, utcnow
from app.sending import campaigns as service
from app.settings import Settings, get_settings
from tests.conftest import fresh_database
from tests.sending.conftest import campaign_state, make_campaign, make_list, run_worker_until
from tests.support.mailstack import MailStack

NOREPLY = "noreply@example.test"
PEOPLE = [("alice@example.test", "Alice", {"city": "Oslo"}), ("bob@example.test", "Bob", {"city": "Rome"})]


@pytest.fixture
def target_url(db_url: str, tmp_path: Path) -> Iterator[str]:
    """An empty database of the same kind as the test's."""
    with fresh_database("sqlite" if db_url.startswith("sqlite") else "postgresql", tmp_path, "restored") as url:
        yield url
    app.db._engines.pop(url, None)


def _bulkmail(monkeypatch: pytest.MonkeyPatch, database_url: str, *args: str) -> tuple[int, str]:
    monkeypatch.setenv("BULKMAIL_DATABASE_URL", database_url)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli, list(args))
    finally:
        get_settings.cache_clear()
    return result.exit_code, result.output


def _actions(engine: Engine) -> list[str]:
    with Session(engine) as s:
        return list(s.execute(select(AuditEntry.action)).scalars())


@pytest.mark.mailstack
def test_a_backup_restored_into_an_empty_database_sends_its_campaign(
    settings: Settings, engine: Engine, session: Session, mail: MailStack, target_url: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    lst = make_list(session, "team", PEOPLE)
    draft = make_campaign(session, [lst.id], from_address=NOREPLY)
    file = tmp_path / "bulkmail.backup"

    code, out = _bulkmail(monkeypatch, settings.database_url, "backup", str(file))
    assert code == 0, out
    assert "backed up" in out and file.stat().st_size > 0 and file.stat().st_mode & 0o077 == 0
    assert "db.backup" in _actions(engine)

    code, out = _bulkmail(monkeypatch, target_url, "restore", str(file))
    assert code == 0, out
    restored = app.db.get_engine(settings.model_copy(update={"database_url": target_url}))
    assert "db.restore" in _actions(restored)
    with Session(restored) as s:
        assert sorted(s.execute(select(Contact.email)).scalars()) == [p[0] for p in PEOPLE]
        campaign = s.get(Campaign, draft.id)
        assert campaign is not None and campaign.state == "draft"
        relay = settings.model_copy(update={
            "database_url": target_url, "smtp_host": mail.host, "smtp_port": mail.submission_port,
            "smtp_security": "starttls", "smtp_cafile": mail.cafile, "smtp_username": NOREPLY,
            "smtp_password": SecretStr(mail.users[NOREPLY]), "worker_poll_seconds": 0.05, "smtp_timeout": 10.0,
        })  # fmt: skip
        service.launch(s, campaign, relay, utcnow())
        s.commit()
    run_worker_until(relay, restored, lambda: campaign_state(restored, draft.id) == "completed")  # type: ignore[arg-type]
    for address, first, _ in PEOPLE:
        [raw] = mail.wait_for_messages(address, 1, timeout=15)
        assert email.message_from_bytes(raw, policy=email.policy.default)["Subject"] == f"Hi {first}"

    # the restored database now holds a sent campaign: not replaced without --force
    code, out = _bulkmail(monkeypatch, target_url, "restore", str(file))
    assert code == 1 and "not empty" in out and "--force" in out
    assert campaign_state(restored, draft.id) == "completed"  # type: ignore[arg-type]
    code, out = _bulkmail(monkeypatch, target_url, "restore", "--force", str(file))
    assert code == 0, out
    assert campaign_state(restored, draft.id) == "draft"  # type: ignore[arg-type]


def test_a_file_that_is_not_a_backup_of_this_kind_is_refused_by_name(
    settings: Settings, engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("not a database")
    code, out = _bulkmail(monkeypatch, settings.database_url, "restore", str(notes))
    kind = "SQLite" if settings.database_url.startswith("sqlite") else "PostgreSQL"
    assert code == 1 and f"is not a {kind} backup" in out
    code, out = _bulkmail(monkeypatch, settings.database_url, "restore", str(tmp_path / "missing.backup"))
    assert code == 1 and "is not a file" in out
    code, out = _bulkmail(monkeypatch, settings.database_url, "backup", str(tmp_path / "no" / "such" / "dir.backup"))
    assert code == 1 and "does not exist" in out


def test_pg_dump_missing_or_of_another_version_is_named(
    postgres_migrated: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no pg_dump on it
    code, out = _bulkmail(monkeypatch, postgres_migrated, "backup", str(tmp_path / "x.backup"))
    assert code == 1 and "pg_dump was not found" in out and "postgresql-client" in out
    # pg_dump's own words when the server is newer than it
    said = ("pg_dump: error: aborting because of server version mismatch\n"
            "pg_dump: detail: server version: 17.2 (Debian 17.2-1); pg_dump version: 15.20 (Debian 15.20-0+deb12u1)\n")  # fmt: skip
    assert _explain(said, "pg_dump") == (
        "pg_dump 15.20 cannot dump a PostgreSQL 17.2 server: install the client programs of version 17 or newer "
        "(Debian: postgresql-client-17)"
    )
    said = "pg_restore: error: unsupported version (1.16) in file header\n"
    assert "older than the pg_dump that wrote the backup (archive format 1.16)" in _explain(said, "pg_restore")

"""The `bulkmail` command's changes are in the audit log as the pages' are, with the operating-system user
who ran it; its read-only commands leave no entry."""

import getpass
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlmodel import Session, col
from typer.testing import CliRunner, Result

from app.cli import cli
from app.models import AuditEntry
from app.settings import Settings, get_settings
from tests.audience.conftest import DATA
from tests.users.support import PASSWORD, signed_in

Run = Callable[..., Result]


@pytest.fixture
def run(settings: Settings, engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[Run]:
    monkeypatch.setenv("BULKMAIL_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("BULKMAIL_UPLOAD_DIR", settings.upload_dir)
    monkeypatch.setenv("BULKMAIL_NEW_USER_PASSWORD", PASSWORD)
    monkeypatch.setenv("BULKMAIL_BOUNCE_ADDRESS", "noreply@example.test")
    get_settings.cache_clear()
    runner = CliRunner()

    def invoke(*args: object, code: int = 0) -> Result:
        result = runner.invoke(cli, [str(a) for a in args])
        assert result.exit_code == code, result.output
        return result

    yield invoke
    get_settings.cache_clear()


def _entries(engine: Engine) -> list[AuditEntry]:
    with Session(engine) as s:
        return list(s.execute(select(AuditEntry).order_by(col(AuditEntry.id))).scalars())


def test_each_changing_command_is_on_the_audit_page_and_no_reading_one(
    run: Run, anon_client: TestClient, engine: Engine, tmp_path: Path
) -> None:
    run("user", "create", "--email", "admin@example.test")
    key_id = re.search(r"key (\d+) ", run("apikey", "create", "--name", "CMS", "--scope", "write").output).group(1)  # type: ignore[union-attr]
    run("apikey", "revoke", key_id)
    run("import", DATA / "plain.csv", "--list", "News")
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    run("import", empty, "--list", "Empty", "--format", "text", code=1)  # failed, but made the list
    text = tmp_path / "body.txt"
    text.write_text("Hello")
    run("campaign", "send", "--list", "Empty", "--subject", "Hi", "--text", text, "--no-local-worker")
    for read_only in (["apikey", "list"], ["lists"], ["audience", "--list", "News"], ["why", "carol@example.com"],
                      ["version"], ["db", "upgrade"]):  # fmt: skip
        run(*read_only)
    run("sweep", code=1)  # no mailbox set up: a failed sweep, recorded all the same

    entries = _entries(engine)
    who = f"cli:{getpass.getuser()}@"
    assert all(e.actor_kind == "cli" and e.actor.startswith(who) for e in entries)
    got = [(e.action, e.route, e.object_type) for e in entries]
    assert got == [
        ("users.create", "bulkmail user create", "user"),
        ("settings.api_keys.create", "bulkmail apikey create", "api_key"),
        ("settings.api_keys.revoke", "bulkmail apikey revoke", "api_key"),
        ("lists.create", "bulkmail import", "list"),
        ("lists.import", "bulkmail import", "list"),
        ("lists.create", "bulkmail import", "list"),
        ("lists.import", "bulkmail import", "list"),
        ("campaigns.new", "bulkmail campaign send", "campaign"),
        ("campaigns.launch", "bulkmail campaign send", "campaign"),
        ("bounces.sweep", "bulkmail sweep", "sweep"),
    ]
    assert entries[1].object_id == entries[2].object_id == key_id and entries[1].detail == {"scope": "write"}
    assert entries[0].detail == {"email": "admin@example.test", "role": "admin"}
    assert PASSWORD not in " ".join(str(vars(e)) for e in entries)

    page = signed_in(anon_client, "admin@example.test").get("/audit").text
    assert page.count(who) == len(entries) and "settings.api_keys.revoke" in page and "lists.import" in page


def test_a_command_that_fails_records_nothing(run: Run, engine: Engine) -> None:
    run("apikey", "revoke", "999", code=2)
    run("user", "create", "--email", "not-an-address", code=2)
    run("campaign", "send", "--list", "Nope", "--subject", "Hi", code=2)
    assert _entries(engine) == []

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, inspect, make_url, text
from sqlmodel import SQLModel

from app.db import make_engine, modelled
from app.migrate import alembic_config, current, head, upgrade
from tests.conftest import BACKENDS, POSTGRES_URL


def test_head_matches_models(engine: Engine) -> None:
    with engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True, "include_name": modelled}), SQLModel.metadata
        )
    assert diff == []


def test_upgrade_is_idempotent(engine: Engine) -> None:
    before = current(engine)
    upgrade(engine)
    upgrade(engine)
    assert current(engine) == before
    assert {"contact", "delivery", "bounce", "suppression"} <= set(inspect(engine).get_table_names())


def test_cli_db_upgrade_brings_every_earlier_revision_to_head(empty_db_url: str) -> None:
    """A database left at any earlier release's revision, with data in it, upgrades and keeps the data."""
    revisions = [
        r.revision for r in reversed(list(ScriptDirectory.from_config(alembic_config(empty_db_url)).walk_revisions()))
    ]
    env = {**os.environ, "BULKMAIL_DATABASE_URL": empty_db_url}
    for earlier in revisions[:-1]:
        engine = create_engine(empty_db_url)
        with engine.begin() as conn:
            conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
        SQLModel.metadata.drop_all(engine)
        upgrade(engine, earlier)
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO suppression (email, email_key, reason, source, note, created_at) "
                              "VALUES ('kept@example.com', 'kept@example.com', 'unsubscribed', 'test', '', '2026-01-01 00:00:00')"))  # fmt: skip
        out = subprocess.run([sys.executable, "-m", "app", "db", "upgrade"], env=env, capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        assert current(engine) == revisions[-1]
        with engine.connect() as conn:
            assert conn.execute(text("SELECT email FROM suppression")).scalars().all() == ["kept@example.com"]
            diff = compare_metadata(
                MigrationContext.configure(conn, opts={"compare_type": True, "include_name": modelled}),
                SQLModel.metadata,
            )
        assert diff == []
        engine.dispose()


@pytest.fixture(params=BACKENDS)
def empty_db_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    """A database with no tables at all."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/fresh.db"
        return
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    name = f"bulkmail_fresh_test_{os.getpid()}"
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        conn.execute(text(f"CREATE DATABASE {name}"))
    yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()


def test_cli_db_upgrade_twice_from_empty(empty_db_url: str) -> None:
    env = {**os.environ, "BULKMAIL_DATABASE_URL": empty_db_url}
    for _ in range(2):
        out = subprocess.run(
            [sys.executable, "-m", "app", "db", "upgrade"], env=env, capture_output=True, text=True, timeout=60
        )
        assert out.returncode == 0, out.stderr
        assert "database at revision" in out.stdout


def test_cli_help_explains_each_command() -> None:
    out = subprocess.run([sys.executable, "-m", "app", "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0
    for command in ("serve", "worker", "db"):
        assert command in out.stdout


def test_ledger_rebuild_keeps_every_row_that_refers_to_the_ledger(empty_db_url: str) -> None:
    """0006 rebuilds the delivery table on SQLite; the attempts, bounces and suppressions that refer
    to its rows keep them (with foreign keys on, dropping the old table would delete the attempts)."""
    engine = make_engine(empty_db_url)
    upgrade(engine, "0005")
    stamp = "'2026-01-01 00:00:00'"
    with engine.begin() as conn:
        for sql in (
            "INSERT INTO contact (id, email, email_key, attributes, is_role, created_at, updated_at) "
            f"VALUES (1, 'a@x.org', 'a@x.org', '{{}}', false, {stamp}, {stamp})",
            "INSERT INTO campaign (id, name, from_name, from_address, subject, html_template, text_template, list_ids, "
            f"state, audience_counts, created_at, updated_at) VALUES (1, 'c', '', 'n@x.org', 's', '', '', '[]', "
            f"'completed', '{{}}', {stamp}, {stamp})",
            "INSERT INTO delivery (id, campaign_id, contact_id, email, email_key, state, attempts, sent_at, verp_token) "
            f"VALUES (1, 1, 1, 'a@x.org', 'a@x.org', 'bounced', 1, {stamp}, 'tok')",
            f"INSERT INTO delivery_attempt (delivery_id, at, outcome) VALUES (1, {stamp}, 'sent')",
            "INSERT INTO suppression (email, email_key, reason, source, note, delivery_id, created_at) "
            f"VALUES ('a@x.org', 'a@x.org', 'bounced', 'test', '', 1, {stamp})",
        ):
            conn.execute(text(sql))
    upgrade(engine)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT contact_id, verp_token FROM delivery")).all() == [(1, "tok")]
        assert conn.execute(text("SELECT delivery_id FROM delivery_attempt")).scalars().all() == [1]
        assert conn.execute(text("SELECT delivery_id FROM suppression")).scalars().all() == [1]
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True, "include_name": modelled}), SQLModel.metadata
        )
    assert diff == []
    engine.dispose()


def test_users_from_before_roles_become_admins_and_the_downgrade_keeps_them(empty_db_url: str) -> None:
    from alembic import command

    engine = create_engine(empty_db_url)
    upgrade(engine, "0006")
    with engine.begin() as conn:
        for email, admin in (("old-admin@example.com", True), ("old-user@example.com", False)):
            conn.execute(text("INSERT INTO web_user (email, password_hash, is_admin, failed_logins, created_at) "
                              "VALUES (:e, 'x', :a, 0, '2026-01-01 00:00:00')"), {"e": email, "a": admin})  # fmt: skip
    upgrade(engine)
    with engine.connect() as conn:
        assert set(conn.execute(text("SELECT role FROM web_user")).scalars()) == {"admin"}
        assert conn.execute(text("SELECT count(*) FROM role_policy WHERE NOT require_totp")).scalar_one() == 3
    cfg = alembic_config(empty_db_url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0006")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM web_user WHERE is_admin")).scalar_one() == 2
    engine.dispose()


def test_the_head_read_from_the_migration_files_is_alembics(empty_db_url: str) -> None:
    """`upgrade` skips Alembic when the database is at this head: a misread one would leave a database behind."""
    assert head() == ScriptDirectory.from_config(alembic_config(empty_db_url)).get_current_head()


def test_pacing_state_comes_with_0013_and_goes_with_its_downgrade(empty_db_url: str) -> None:
    from alembic import command

    engine = create_engine(empty_db_url)
    upgrade(engine, "0012")
    assert "pacing_state" not in inspect(engine).get_table_names()
    upgrade(engine, "0013")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO pacing_state (key, rate, throttles, successes, sent_on_day, updated_at) "
                          "VALUES ('google', 2.5, 1, 0, 0, '2026-01-01 00:00:00')"))  # fmt: skip
    cfg = alembic_config(empty_db_url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0012")
    assert "pacing_state" not in inspect(engine).get_table_names()
    upgrade(engine)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM pacing_state")).scalar_one() == 0
    engine.dispose()

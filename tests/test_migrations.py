import json
import os
import subprocess
import sys

import pyotp
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, inspect, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel

from app.db import make_engine, modelled
from app.migrate import alembic_config, current, head, upgrade


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
            # the upgrade is in the audit log, with who ran it
            [(actor, action, detail)] = conn.execute(text("SELECT actor, action, detail FROM audit_log")).all()
            assert actor.startswith("cli:") and action == "db.upgrade"
            assert (detail if isinstance(detail, dict) else json.loads(detail)) == {
                "from": earlier,
                "to": revisions[-1],
            }
            diff = compare_metadata(
                MigrationContext.configure(conn, opts={"compare_type": True, "include_name": modelled}),
                SQLModel.metadata,
            )
        assert diff == []
        engine.dispose()


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


def test_plain_two_factor_seeds_are_sealed_on_upgrade_and_opened_on_downgrade(empty_db_url: str) -> None:
    from alembic import command

    from app.sealed import unseal
    from app.settings import get_settings
    from app.users.totp import check_second_factor

    engine = make_engine(empty_db_url)
    upgrade(engine, "0012")
    seed = pyotp.random_base32()
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO web_user (email, password_hash, role, failed_logins, created_at, totp_secret) "
                          "VALUES ('two@example.com', 'x', 'admin', 0, '2026-01-01 00:00:00', :s)"), {"s": seed})  # fmt: skip
    upgrade(engine)
    with engine.connect() as conn:
        raw = conn.execute(text("SELECT totp_secret FROM web_user")).scalar_one()
        user_id = conn.execute(text("SELECT id FROM web_user")).scalar_one()
    assert seed not in raw and unseal(get_settings(), raw) == seed
    assert check_second_factor(engine, get_settings(), user_id, pyotp.TOTP(seed).now()) == "totp"  # signs in as before
    cfg = alembic_config(empty_db_url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0012")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT totp_secret FROM web_user")).scalar_one() == seed


def test_non_ascii_contacts_index_comes_with_0016_and_goes_with_its_downgrade(empty_db_url: str) -> None:
    from alembic import command

    engine = create_engine(empty_db_url)
    upgrade(engine, "0015")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO contact (email, email_key, attributes, is_role, created_at, updated_at) "
                          "VALUES (:e, :e, '{}', false, '2026-01-01 00:00:00', '2026-01-01 00:00:00')"),
                     [{"e": "jörg@example.de"}, {"e": "joerg@example.de"}])  # fmt: skip
    upgrade(engine)
    indexes = {i["name"] for i in inspect(engine).get_indexes("contact")}
    assert "ix_contact_not_ascii" in indexes
    cfg = alembic_config(empty_db_url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0015")
    assert "ix_contact_not_ascii" not in {i["name"] for i in inspect(engine).get_indexes("contact")}
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM contact")).scalar_one() == 2
    upgrade(engine)  # and up again
    engine.dispose()


def test_the_head_read_from_the_migration_files_is_alembics(empty_db_url: str) -> None:
    """`upgrade` skips Alembic when the database is at this head: a misread one would leave a database behind."""
    assert head() == ScriptDirectory.from_config(alembic_config(empty_db_url)).get_current_head()


def test_campaigns_from_before_relays_send_as_before_and_the_downgrade_keeps_them(empty_db_url: str) -> None:
    from alembic import command

    engine = create_engine(empty_db_url)
    upgrade(engine, "0012")
    stamp = "'2026-01-01 00:00:00'"
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO campaign (id, name, from_name, from_address, subject, html_template, text_template, list_ids, "
            f"state, audience_counts, created_at, updated_at) VALUES (1, 'c', '', 'n@x.org', 's', '', '', '[]', "
            f"'draft', '{{}}', {stamp}, {stamp})"))  # fmt: skip
    upgrade(engine)
    with engine.begin() as conn:
        row = conn.execute(text("SELECT identity_id, relay_ids, headers FROM campaign")).one()
        assert row[0] is None
        assert (json.loads(row[1]) if isinstance(row[1], str) else row[1]) == []
        assert (json.loads(row[2]) if isinstance(row[2], str) else row[2]) == {}
        conn.execute(text(
            "INSERT INTO relay (name, host, port, security, connections, rate, weight, enabled, created_at, updated_at) "
            f"VALUES ('r', '127.0.0.1', 2587, 'starttls', 4, 0, 1, true, {stamp}, {stamp})"))  # fmt: skip
    cfg = alembic_config(empty_db_url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0012")
    assert not {"relay", "sending_identity"} & set(inspect(engine).get_table_names())
    with engine.connect() as conn:
        assert conn.execute(text("SELECT name FROM campaign")).scalars().all() == ["c"]
    engine.dispose()


def test_imports_and_invitations_from_before_languages_keep_theirs_and_the_downgrade_drops_the_column(
    empty_db_url: str,
) -> None:
    from alembic import command

    engine = create_engine(empty_db_url)
    upgrade(engine, "0014")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO mailing_list (name, description, created_at) VALUES ('L', '', '2026-01-01')"))
        conn.execute(text("INSERT INTO import_job (list_id, filename, format, state, size_bytes, bytes_read, "
                          "column_mapping, rows_read, added, updated, duplicates, invalid, suppressed, created_at) "
                          "SELECT id, 'old.csv', 'csv', 'done', 0, 0, '{}', 0, 0, 0, 0, 0, 0, '2026-01-01' "
                          "FROM mailing_list"))  # fmt: skip
    upgrade(engine, "0015")
    with engine.begin() as conn:
        assert conn.execute(text("SELECT filename, language FROM import_job")).one() == ("old.csv", None)
        conn.execute(text("UPDATE import_job SET language = 'de'"))
    cfg = alembic_config(empty_db_url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0014")
    for table in ("import_job", "user_invite", "signup_request"):
        assert "language" not in {c["name"] for c in inspect(engine).get_columns(table)}
    with engine.connect() as conn:
        assert conn.execute(text("SELECT filename FROM import_job")).scalar_one() == "old.csv"


def test_guard_columns_arrive_on_campaigns_of_0016_and_leave_on_the_downgrade(empty_db_url: str) -> None:
    from alembic import command

    engine = create_engine(empty_db_url)
    upgrade(engine, "0016")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO campaign (name, from_name, from_address, subject, html_template, text_template, "
                          "list_ids, relay_ids, headers, state, audience_counts, created_at, updated_at) VALUES ('old', '', "
                          "'a@b.test', 's', '', '', '[]', '[]', '{}', 'paused', '{}', '2026-01-01 00:00:00', "
                          "'2026-01-01 00:00:00')"))  # fmt: skip
    upgrade(engine, "0017")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT guard_override, guard_pause FROM campaign")).one() in (
            (False, None),
            (0, None),
        )
    indexes = {i["name"] for i in inspect(engine).get_indexes("delivery")}
    assert "ix_delivery_campaign_attempted" in indexes
    cfg = alembic_config(empty_db_url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0016")
    columns = {c["name"] for c in inspect(engine).get_columns("campaign")}
    assert "guard_override" not in columns and "guard_pause" not in columns
    with engine.connect() as conn:
        assert conn.execute(text("SELECT name FROM campaign")).scalars().all() == ["old"]
    upgrade(engine, "0017")
    engine.dispose()


def test_pacing_state_comes_with_0018_and_goes_with_its_downgrade(empty_db_url: str) -> None:
    from alembic import command

    engine = create_engine(empty_db_url)
    upgrade(engine, "0017")
    stamp = "'2026-01-01 00:00:00'"
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO campaign (name, from_name, from_address, subject, html_template, text_template, "
                          "list_ids, relay_ids, headers, guard_override, state, audience_counts, created_at, updated_at) "
                          f"VALUES ('old', '', 'a@b.test', 's', '', '', '[]', '[]', '{{}}', false, 'sending', '{{}}', "
                          f"{stamp}, {stamp})"))  # fmt: skip
    assert "pacing_state" not in inspect(engine).get_table_names()
    upgrade(engine, "0018")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO pacing_state (key, rate, throttles, successes, sent_on_day, updated_at) "
                          f"VALUES ('google', 2.5, 1, 0, 0, {stamp})"))  # fmt: skip
    cfg = alembic_config(empty_db_url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0017")
    assert "pacing_state" not in inspect(engine).get_table_names()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT name FROM campaign")).scalars().all() == ["old"]
    upgrade(engine)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM pacing_state")).scalar_one() == 0
    engine.dispose()


def test_library_archive_and_time_zone_come_with_0019_and_go_with_its_downgrade(empty_db_url: str) -> None:
    from alembic import command

    engine = create_engine(empty_db_url)
    upgrade(engine, "0018")
    stamp = "'2026-01-01 00:00:00'"
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO campaign (name, from_name, from_address, subject, html_template, text_template, "
                          "list_ids, relay_ids, headers, guard_override, state, audience_counts, created_at, updated_at) "
                          f"VALUES ('old', '', 'a@b.test', 's', '', '', '[]', '[]', '{{}}', false, 'draft', '{{}}', "
                          f"{stamp}, {stamp})"))  # fmt: skip
        conn.execute(text(f"INSERT INTO mailing_list (name, description, created_at) VALUES ('news', '', {stamp})"))
    upgrade(engine, "0019")
    with engine.connect() as conn:
        # the campaign and list before it keep their meaning: Jinja2, no layout, not in any archive
        language, layout, archived = conn.execute(
            text("SELECT template_language, layout_id, archived FROM campaign")
        ).one()
        assert (language, layout, bool(archived)) == ("jinja", None, False)
        assert not conn.execute(text("SELECT archive FROM mailing_list")).scalar_one()
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO message_template (name, kind, template_language, subject, html_template, "
                          f"text_template, created_at, updated_at) VALUES ('t', 'layout', 'jinja', '', "
                          f"'{{{{ content }}}}', '', {stamp}, {stamp})"))  # fmt: skip
    cfg = alembic_config(empty_db_url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0018")
    assert "message_template" not in inspect(engine).get_table_names()
    assert "time_zone" not in {c["name"] for c in inspect(engine).get_columns("web_user")}
    with engine.connect() as conn:
        assert conn.execute(text("SELECT name FROM campaign")).scalars().all() == ["old"]
    upgrade(engine)
    engine.dispose()


def test_the_claim_index_comes_with_0020_and_goes_with_its_downgrade(empty_db_url: str) -> None:
    from alembic import command

    engine = create_engine(empty_db_url)
    upgrade(engine, "0020")
    indexes = {i["name"]: i["column_names"] for i in inspect(engine).get_indexes("delivery")}
    assert indexes["ix_delivery_campaign_due"] == ["campaign_id", "state", "next_attempt_at"]
    assert "ix_delivery_due" not in indexes and "ix_delivery_campaign_state" not in indexes
    cfg = alembic_config(empty_db_url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0019")
    indexes = {i["name"]: i["column_names"] for i in inspect(engine).get_indexes("delivery")}
    assert indexes["ix_delivery_due"] == ["state", "next_attempt_at"]
    assert indexes["ix_delivery_campaign_state"] == ["campaign_id", "state"]
    assert "ix_delivery_campaign_due" not in indexes
    upgrade(engine)
    engine.dispose()


def test_segments_come_with_0021_and_go_with_its_downgrade(empty_db_url: str) -> None:
    from alembic import command

    engine = create_engine(empty_db_url)
    upgrade(engine, "0020")
    stamp = "'2026-01-01 00:00:00'"
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO campaign (name, from_name, from_address, subject, html_template, text_template, "
                          "list_ids, relay_ids, headers, guard_override, state, audience_counts, template_language, archived, "
                          "created_at, updated_at) "
                          f"VALUES ('old', '', 'a@b.test', 's', '', '', '[1]', '[]', '{{}}', false, 'draft', '{{}}', "
                          "'jinja', false, "
                          f"{stamp}, {stamp})"))  # fmt: skip
    assert "segment" not in inspect(engine).get_table_names()
    upgrade(engine, "0021")
    with engine.begin() as conn:
        # a campaign from before has no segments and no exclusions
        row = conn.execute(text("SELECT segment_ids, exclude_list_ids, exclude_segment_ids FROM campaign")).one()
        assert [json.loads(v) if isinstance(v, str) else v for v in row] == [[], [], []]
        conn.execute(text("INSERT INTO segment (name, description, expression, created_at, updated_at) "
                          f"VALUES ('Germans', '', 'country = ''DE''', {stamp}, {stamp})"))  # fmt: skip
    cfg = alembic_config(empty_db_url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0020")
    assert "segment" not in inspect(engine).get_table_names()
    assert "segment_ids" not in {c["name"] for c in inspect(engine).get_columns("campaign")}
    with engine.connect() as conn:
        assert conn.execute(text("SELECT name, list_ids FROM campaign")).one()[0] == "old"
    upgrade(engine)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM segment")).scalar_one() == 0
    engine.dispose()


def test_metric_counters_and_heartbeats_come_with_0022_and_go_with_its_downgrade(empty_db_url: str) -> None:
    from alembic import command

    engine = create_engine(empty_db_url)
    upgrade(engine, "0021")
    assert "metric_counter" not in inspect(engine).get_table_names()
    upgrade(engine, "0022")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO metric_counter (name, labels, value) VALUES ('bulkmail_sweeps', '{}', 2)"))
        conn.execute(text("INSERT INTO worker_heartbeat (worker, started_at, seen_at) "
                          "VALUES ('h:1:a', '2026-01-01 00:00:00', '2026-01-01 00:00:00')"))  # fmt: skip
    cfg = alembic_config(empty_db_url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0021")
    names = inspect(engine).get_table_names()
    assert "metric_counter" not in names and "worker_heartbeat" not in names
    upgrade(engine)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM metric_counter")).scalar_one() == 0
    engine.dispose()


def test_tracking_comes_with_0023_and_goes_with_its_downgrade(empty_db_url: str) -> None:
    from alembic import command

    engine = create_engine(empty_db_url)
    upgrade(engine, "0022")
    stamp = "'2026-01-01 00:00:00'"
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO campaign (name, from_name, from_address, subject, html_template, text_template, "
                          "list_ids, relay_ids, headers, guard_override, state, audience_counts, template_language, archived, "
                          "created_at, updated_at) "
                          f"VALUES ('old', '', 'a@b.test', 's', '', '', '[]', '[]', '{{}}', false, 'completed', '{{}}', "
                          "'jinja', false, "
                          f"{stamp}, {stamp})"))  # fmt: skip
    upgrade(engine, "0023")
    with engine.begin() as conn:
        assert conn.execute(text("SELECT tracking FROM campaign")).scalars().all() == [None]  # the default applies
        conn.execute(text("INSERT INTO campaign_link (campaign_id, position, url) "
                          "SELECT id, 1, 'https://shop.example/' FROM campaign"))  # fmt: skip
        conn.execute(text("INSERT INTO tracking_hit (campaign_id, delivery_id, link, at, machine) "
                          f"SELECT id, NULL, 1, {stamp}, NULL FROM campaign"))  # fmt: skip
        conn.execute(text("INSERT INTO tracking_count (campaign_id, hour, link, reason, hits, firsts) "
                          f"SELECT id, {stamp}, 0, '', 3, 1 FROM campaign"))  # fmt: skip
    cfg = alembic_config(empty_db_url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0022")
    tables = inspect(engine).get_table_names()
    assert not {"campaign_link", "tracking_hit", "tracking_count", "campaign_domain_count"} & set(tables)
    assert "tracking" not in {c["name"] for c in inspect(engine).get_columns("campaign")}
    with engine.connect() as conn:
        assert conn.execute(text("SELECT name FROM campaign")).scalars().all() == ["old"]
    upgrade(engine)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM tracking_hit")).scalar_one() == 0
    engine.dispose()


def test_the_oidc_identity_comes_with_0024_and_goes_with_its_downgrade(empty_db_url: str) -> None:
    from alembic import command

    engine = create_engine(empty_db_url)
    upgrade(engine, "0023")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO web_user (email, password_hash, role, failed_logins, created_at) "
                          "VALUES ('kept@example.test', 'x', 'admin', 0, '2026-01-01 00:00:00')"))  # fmt: skip
    upgrade(engine, "0024")
    with engine.begin() as conn:
        assert conn.execute(text("SELECT oidc_issuer, oidc_subject FROM web_user")).all() == [(None, None)]
        conn.execute(text("INSERT INTO web_user (email, password_hash, role, failed_logins, created_at, oidc_issuer, "
                          "oidc_subject) VALUES ('a@example.test', '!', 'viewer', 0, '2026-01-01 00:00:00', "
                          "'https://idp.example.test', 'a')"))  # fmt: skip
    with pytest.raises(IntegrityError), engine.begin() as conn:  # one account per identity at the provider
        conn.execute(text("INSERT INTO web_user (email, password_hash, role, failed_logins, created_at, oidc_issuer, "
                          "oidc_subject) VALUES ('b@example.test', '!', 'viewer', 0, '2026-01-01 00:00:00', "
                          "'https://idp.example.test', 'a')"))  # fmt: skip
    cfg = alembic_config(empty_db_url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0023")
    assert not {"oidc_issuer", "oidc_subject"} & {c["name"] for c in inspect(engine).get_columns("web_user")}
    with engine.connect() as conn:
        assert conn.execute(text("SELECT email FROM web_user ORDER BY id")).scalars().all() == [
            "kept@example.test",
            "a@example.test",
        ]
    engine.dispose()


def test_transactional_streams_come_with_0025_and_go_with_its_downgrade(empty_db_url: str) -> None:
    """0025 rebuilds the ledger (SQLite) to let a transactional stream repeat an address; bulk rows keep their
    one-per-address rule, and every row referring to the ledger keeps its delivery."""
    from alembic import command

    engine = create_engine(empty_db_url)
    upgrade(engine, "0024")
    stamp = "'2026-01-01 00:00:00'"
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO campaign (id, name, from_name, from_address, subject, html_template, "
                          "text_template, list_ids, relay_ids, headers, guard_override, state, audience_counts, "
                          "template_language, archived, created_at, updated_at) "
                          "VALUES (1, 'old', '', 'a@b.test', 's', '', '', '[]', '[]', '{}', false, 'completed', '{}', "
                          f"'jinja', false, {stamp}, {stamp})"))  # fmt: skip
        conn.execute(text("INSERT INTO delivery (id, campaign_id, email, email_key, state, attempts, sent_at, "
                          f"verp_token) VALUES (1001, 1, 'a@x.org', 'a@x.org', 'sent', 1, {stamp}, 'tok')"))  # fmt: skip
        conn.execute(text(f"INSERT INTO delivery_attempt (delivery_id, at, outcome) VALUES (1001, {stamp}, 'sent')"))
    upgrade(engine, "0025")
    with engine.begin() as conn:
        assert conn.execute(text("SELECT kind FROM campaign")).scalars().all() == ["bulk"]
        assert conn.execute(text("SELECT transactional, verp_token FROM delivery")).all() == [(False, "tok")]
        assert conn.execute(text("SELECT delivery_id FROM delivery_attempt")).scalars().all() == [1001]
        insert = ("INSERT INTO delivery (campaign_id, email, email_key, state, attempts, transactional) "
                  "VALUES (1, 'a@x.org', 'a@x.org', 'queued', 0, {})")  # fmt: skip
        conn.execute(text(insert.format("true")))
        conn.execute(text(insert.format("true")))  # a stream repeats an address
        conn.execute(text("INSERT INTO message_content (delivery_id, reference, from_name, from_address, subject, "
                          f"html, text, created_at) SELECT min(id), 'r', '', 'n@b.test', 's', '', 't', {stamp} "
                          "FROM delivery"))  # fmt: skip
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(text(insert.format("false")))  # a bulk row does not
    cfg = alembic_config(empty_db_url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0024")
    assert "message_content" not in inspect(engine).get_table_names()
    assert "transactional" not in {c["name"] for c in inspect(engine).get_columns("delivery")}
    with engine.connect() as conn:
        assert conn.execute(text("SELECT id FROM delivery")).scalars().all() == [1001]
    upgrade(engine)
    engine.dispose()


def test_send_windows_come_with_0026_and_go_with_its_downgrade(empty_db_url: str) -> None:
    from alembic import command

    engine = create_engine(empty_db_url)
    upgrade(engine, "0026")
    stamp = "'2026-01-01 00:00:00'"
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO campaign (name, from_name, from_address, subject, html_template, text_template, "
                          "list_ids, relay_ids, headers, guard_override, state, audience_counts, template_language, archived, "
                          "send_window, created_at, updated_at) "
                          f"VALUES ('night', '', 'a@b.test', 's', '', '', '[]', '[]', '{{}}', false, 'sending', '{{}}', "
                          """'jinja', false, '{"days": ["mon"], "start": "08:00", "end": "20:00", "zone": "UTC"}', """
                          f"{stamp}, {stamp})"))  # fmt: skip
        conn.execute(text("INSERT INTO delivery (campaign_id, email, email_key, state, attempts, next_attempt_at) "
                          f"SELECT id, 'a@b.test', 'a@b.test', 'waiting', 1, {stamp} FROM campaign"))  # fmt: skip
    cfg = alembic_config(empty_db_url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0025")
    assert not {"send_window", "local_time"} & {c["name"] for c in inspect(engine).get_columns("campaign")}
    with engine.connect() as conn:
        assert conn.execute(text("SELECT state FROM delivery")).scalars().all() == ["deferred"]  # due again
    upgrade(engine)
    engine.dispose()


def test_state_counts_come_with_0027_counting_the_ledger_and_go_with_its_downgrade(empty_db_url: str) -> None:
    from alembic import command

    engine = create_engine(empty_db_url)
    upgrade(engine, "0026")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO delivery (campaign_id, email, email_key, state, attempts) VALUES "
                          "(7, 'a@x.test', 'a@x.test', 'sent', 1), (7, 'b@x.test', 'b@x.test', 'sent', 1), "
                          "(7, 'c@x.test', 'c@x.test', 'queued', 0)"))  # fmt: skip
    upgrade(engine, "0027")

    def counts() -> dict[str, int]:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT state, sum(n) FROM campaign_state_count WHERE campaign_id = 7 "
                                     "GROUP BY state")).all()  # fmt: skip
        return {s: int(n) for s, n in rows if n}

    assert counts() == {"sent": 2, "queued": 1}  # the rows from before, counted
    with engine.begin() as conn:
        conn.execute(text("UPDATE delivery SET state = 'sent' WHERE email = 'c@x.test'"))
    assert counts() == {"sent": 3}
    cfg = alembic_config(empty_db_url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0026")
    assert "campaign_state_count" not in inspect(engine).get_table_names()
    with engine.begin() as conn:  # no trigger is left behind
        conn.execute(text("UPDATE delivery SET state = 'bounced' WHERE email = 'a@x.test'"))
    upgrade(engine)
    assert counts() == {"sent": 2, "bounced": 1}
    engine.dispose()


def test_automations_come_with_0028_and_go_with_its_downgrade(empty_db_url: str) -> None:
    from alembic import command

    engine = create_engine(empty_db_url)
    upgrade(engine, "0027")
    stamp = "'2026-01-01 00:00:00'"
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO campaign (name, from_name, from_address, subject, html_template, text_template, "
                          "list_ids, relay_ids, headers, guard_override, state, audience_counts, template_language, archived, "
                          "created_at, updated_at) "
                          f"VALUES ('old', '', 'a@b.test', 's', '', '', '[]', '[]', '{{}}', false, 'completed', '{{}}', "
                          f"'jinja', false, {stamp}, {stamp})"))  # fmt: skip
    upgrade(engine, "0028")
    with engine.begin() as conn:
        assert conn.execute(text("SELECT automation_id FROM campaign")).scalars().all() == [None]  # an ordinary one
        conn.execute(text("INSERT INTO automation (name, trigger, from_name, from_address, state, created_at, updated_at) "
                          f"VALUES ('Welcome', 'event', '', 'a@b.test', 'draft', {stamp}, {stamp})"))  # fmt: skip
        conn.execute(text("INSERT INTO automation_position (automation_id, contact_id, state, entered_at, updated_at) "
                          f"SELECT id, 7, 'active', {stamp}, {stamp} FROM automation"))  # fmt: skip
    cfg = alembic_config(empty_db_url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0027")
    tables = set(inspect(engine).get_table_names())
    assert not {"automation", "automation_step", "automation_position", "automation_history"} & tables
    assert "automation_id" not in {c["name"] for c in inspect(engine).get_columns("campaign")}
    with engine.connect() as conn:
        assert conn.execute(text("SELECT name FROM campaign")).scalars().all() == ["old"]
    upgrade(engine)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM automation")).scalar_one() == 0
    engine.dispose()


def test_domain_counts_come_with_0029_counting_the_ledger_and_go_with_its_downgrade(empty_db_url: str) -> None:
    from alembic import command

    engine = create_engine(empty_db_url)
    upgrade(engine, "0028")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO delivery (campaign_id, email, email_key, state, attempts) VALUES "
                          "(7, 'a@x.test', 'a@x.test', 'sent', 1), (7, 'b@y.test', 'b@y.test', 'sent', 1), "
                          "(7, 'c@x.test', 'c@x.test', 'queued', 0)"))  # fmt: skip
    upgrade(engine, "0029")

    def counts() -> dict[tuple[str, str], int]:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT domain, state, sum(n) FROM campaign_domain_state_count "
                                     "WHERE campaign_id = 7 GROUP BY domain, state")).all()  # fmt: skip
        return {(d, s): int(n) for d, s, n in rows if n}

    assert counts() == {("x.test", "sent"): 1, ("y.test", "sent"): 1, ("x.test", "queued"): 1}  # from before
    assert "campaign_domain_count" not in inspect(engine).get_table_names()
    with engine.begin() as conn:
        conn.execute(text("UPDATE delivery SET state = 'sent' WHERE email = 'c@x.test'"))
    assert counts() == {("x.test", "sent"): 2, ("y.test", "sent"): 1}
    cfg = alembic_config(empty_db_url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0028")
    tables = inspect(engine).get_table_names()
    assert "campaign_domain_state_count" not in tables and "campaign_domain_count" in tables
    with engine.begin() as conn:  # no trigger is left behind
        conn.execute(text("UPDATE delivery SET state = 'bounced' WHERE email = 'a@x.test'"))
    upgrade(engine)
    assert counts() == {("x.test", "sent"): 1, ("x.test", "bounced"): 1, ("y.test", "sent"): 1}
    engine.dispose()


def test_ab_variants_come_with_0030_and_go_with_its_downgrade(empty_db_url: str) -> None:
    from alembic import command

    engine = create_engine(empty_db_url)
    upgrade(engine, "0029")
    stamp = "'2026-01-01 00:00:00'"
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO campaign (name, from_name, from_address, subject, html_template, text_template, "
                          "list_ids, relay_ids, headers, guard_override, state, audience_counts, template_language, archived, "
                          "created_at, updated_at) "
                          f"VALUES ('old', '', 'a@b.test', 's', '', '', '[]', '[]', '{{}}', false, 'sending', '{{}}', "
                          f"'jinja', false, {stamp}, {stamp})"))  # fmt: skip
        conn.execute(text("INSERT INTO delivery (campaign_id, email, email_key, state, attempts, transactional) "
                          "SELECT id, 'a@b.test', 'a@b.test', 'queued', 0, false FROM campaign"))  # fmt: skip
    upgrade(engine, "0030")
    with engine.begin() as conn:  # an older ledger row has no variant; an older campaign no test
        assert conn.execute(text("SELECT variant FROM delivery")).scalars().all() == [None]
        assert conn.execute(text("SELECT ab_test FROM campaign")).scalars().all() == [None]
        conn.execute(
            text("INSERT INTO campaign_variant (campaign_id, number, subject) SELECT id, 1, 'A' FROM campaign")
        )
        conn.execute(text("INSERT INTO delivery (campaign_id, email, email_key, state, attempts, transactional) "
                          "SELECT id, 'p@b.test', 'p@b.test', 'waiting', 0, false FROM campaign"))  # fmt: skip
    cfg = alembic_config(empty_db_url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0029")
    assert "campaign_variant" not in set(inspect(engine).get_table_names())
    assert "variant" not in {c["name"] for c in inspect(engine).get_columns("delivery")}
    with engine.connect() as conn:  # the row parked for a winner is cancelled: nothing would release it
        states = dict(conn.execute(text("SELECT email, state FROM delivery")).tuples().all())
    assert states == {"a@b.test": "queued", "p@b.test": "cancelled"}
    with engine.begin() as conn:  # the ledger keeps the triggers that count it (no table rebuild)
        conn.execute(text("UPDATE delivery SET state = 'sent' WHERE email = 'a@b.test'"))
        counted = conn.execute(text("SELECT state, sum(n) FROM campaign_state_count GROUP BY state")).tuples().all()
    assert {state: int(n) for state, n in counted if n} == {"sent": 1, "cancelled": 1}
    upgrade(engine)
    engine.dispose()

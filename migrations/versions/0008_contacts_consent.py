"""contacts as people: custom fields, the append-only consent ledger, and the contact search index

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 10:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import app.models.types

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_APPEND_ONLY = "consent_event rows are append-only"


def upgrade() -> None:
    op.create_table(
        "custom_field",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("label", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("type", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("choices", sa.JSON(), nullable=False),
        sa.Column("required", sa.Boolean(), nullable=False),
        sa.Column("created_at", app.models.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "consent_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("list_id", sa.Integer(), nullable=True),
        sa.Column("action", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("actor_kind", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("actor", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("ip", sqlmodel.sql.sqltypes.AutoString(length=45), nullable=True),
        sa.Column("user_agent", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
        sa.Column("consent_text_version", sqlmodel.sql.sqltypes.AutoString(length=50), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("at", app.models.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_consent_event_contact", "consent_event", ["contact_id", "id"])
    op.create_table(
        "contact_search",
        sa.Column("contact_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("contact_id"),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE OR REPLACE FUNCTION consent_event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN RAISE EXCEPTION '{_APPEND_ONLY}'; END $$"
        )
        op.execute(
            "CREATE TRIGGER consent_event_append_only BEFORE UPDATE OR DELETE ON consent_event "
            "FOR EACH ROW EXECUTE FUNCTION consent_event_append_only()"
        )
        # substring search: a trigram index (pg_trgm is a trusted extension: the database owner may add it)
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute("CREATE INDEX contact_search_trgm ON contact_search USING gin (body gin_trgm_ops)")
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER consent_event_no_{verb.lower()} BEFORE {verb} ON consent_event "
                f"BEGIN SELECT RAISE(ABORT, '{_APPEND_ONLY}'); END"
            )
        # substring search: an FTS5 trigram index over contact_search.body, kept in step by triggers
        op.execute(
            "CREATE VIRTUAL TABLE IF NOT EXISTS contact_search_fts USING fts5(body, content='contact_search', "
            "content_rowid='contact_id', tokenize='trigram')"
        )
        op.execute(
            "CREATE TRIGGER contact_search_ai AFTER INSERT ON contact_search BEGIN "
            "INSERT INTO contact_search_fts(rowid, body) VALUES (new.contact_id, new.body); END"
        )
        op.execute(
            "CREATE TRIGGER contact_search_ad AFTER DELETE ON contact_search BEGIN "
            "INSERT INTO contact_search_fts(contact_search_fts, rowid, body) VALUES ('delete', old.contact_id, old.body); END"
        )
        op.execute(
            "CREATE TRIGGER contact_search_au AFTER UPDATE ON contact_search BEGIN "
            "INSERT INTO contact_search_fts(contact_search_fts, rowid, body) VALUES ('delete', old.contact_id, old.body); "
            "INSERT INTO contact_search_fts(rowid, body) VALUES (new.contact_id, new.body); END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS contact_search_trgm")
        op.execute("DROP TRIGGER IF EXISTS consent_event_append_only ON consent_event")
        op.execute("DROP FUNCTION IF EXISTS consent_event_append_only()")
    else:
        for name in ("contact_search_ai", "contact_search_ad", "contact_search_au"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS contact_search_fts")
    op.drop_table("contact_search")
    op.drop_index("ix_consent_event_contact", table_name="consent_event")
    op.drop_table("consent_event")
    op.drop_table("custom_field")

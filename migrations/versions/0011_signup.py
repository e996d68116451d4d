"""signup and confirmed opt-in: a status per list membership (existing ones subscribed), each list's
signup settings and versioned consent texts, and the transactional messages (confirmation, welcome) that
bounces can be tied to

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 13:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import app.models.types

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UNCONFIRMED = sa.text("status = 'unconfirmed'")


def upgrade() -> None:
    with op.batch_alter_table("list_member") as batch:
        # every membership before signups existed was made by an import or a push: subscribed
        batch.add_column(
            sa.Column(
                "status", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False, server_default="subscribed"
            )
        )
    op.create_index(
        "ix_list_member_unconfirmed",
        "list_member",
        ["list_id", "contact_id"],
        sqlite_where=_UNCONFIRMED,
        postgresql_where=_UNCONFIRMED,
    )
    op.create_table(
        "signup_form",
        sa.Column("list_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("public", sa.Boolean(), nullable=False),
        sa.Column("double_opt_in", sa.Boolean(), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("confirm_subject", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("confirm_text", sa.Text(), nullable=False),
        sa.Column("welcome_subject", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("welcome_text", sa.Text(), nullable=False),
        sa.Column("updated_at", app.models.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["list_id"], ["mailing_list.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("list_id"),
    )
    op.create_table(
        "consent_text",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("list_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", app.models.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["list_id"], ["mailing_list.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("list_id", "version", name="uq_consent_text_version"),
    )
    op.create_table(
        "transactional_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("list_id", sa.Integer(), nullable=True),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("email", sqlmodel.sql.sqltypes.AutoString(length=320), nullable=False),
        sa.Column("email_key", sqlmodel.sql.sqltypes.AutoString(length=320), nullable=False),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", app.models.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_reply", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
        sa.Column("message_id", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
        sa.Column("created_at", app.models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", app.models.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["contact_id"], ["contact.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["list_id"], ["mailing_list.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_transactional_message_due", "transactional_message", ["state", "next_attempt_at"])
    op.create_index("ix_transactional_message_contact_id", "transactional_message", ["contact_id"])
    op.create_index("ix_transactional_message_email_key", "transactional_message", ["email_key"])
    with op.batch_alter_table("bounce") as batch:
        batch.add_column(sa.Column("transactional_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_bounce_transactional_id", "transactional_message", ["transactional_id"], ["id"], ondelete="SET NULL"
        )


def downgrade() -> None:
    with op.batch_alter_table("bounce") as batch:
        batch.drop_constraint("fk_bounce_transactional_id", type_="foreignkey")
        batch.drop_column("transactional_id")
    op.drop_index("ix_transactional_message_email_key", table_name="transactional_message")
    op.drop_index("ix_transactional_message_contact_id", table_name="transactional_message")
    op.drop_index("ix_transactional_message_due", table_name="transactional_message")
    op.drop_table("transactional_message")
    op.drop_table("consent_text")
    op.drop_table("signup_form")
    op.drop_index("ix_list_member_unconfirmed", table_name="list_member")
    # in place (SQLite 3.35+ drops a column itself): a batch copy of list_member would rename its new table
    # into place while the contact and list triggers of 0009 refer to it, which SQLite refuses
    op.drop_column("list_member", "status")

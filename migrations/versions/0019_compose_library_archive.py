"""saved templates and layouts; a campaign's template language (Jinja2 or MJML), layout and archive flag; a list's
public archive; a user's time zone

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 21:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import app.models.types

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _str(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def _when(name: str) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, app.models.types.UTCDateTime(timezone=True), nullable=False)


def _keep_memberships_trigger() -> None:
    """SQLite rebuilds mailing_list to change it, and a rebuilt table has lost its triggers: the one that
    deletes a list's memberships with it (0009) is made again."""
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "CREATE TRIGGER IF NOT EXISTS mailing_list_members_gone AFTER DELETE ON mailing_list BEGIN "
            "DELETE FROM list_member WHERE list_id = OLD.id; END"
        )


def upgrade() -> None:
    op.create_table(
        "message_template",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", _str(200), nullable=False),
        sa.Column("kind", _str(10), nullable=False),
        sa.Column("template_language", _str(10), nullable=False),
        sa.Column("subject", _str(998), nullable=False),
        sa.Column("html_template", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("text_template", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        _when("created_at"),
        _when("updated_at"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    with op.batch_alter_table("campaign") as batch:
        batch.add_column(sa.Column("template_language", _str(10), nullable=False, server_default="jinja"))
        batch.add_column(sa.Column("layout_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("archived", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.create_foreign_key("fk_campaign_layout_id_message_template", "message_template", ["layout_id"], ["id"])
    with op.batch_alter_table("campaign") as batch:
        batch.alter_column("template_language", server_default=None)
        batch.alter_column("archived", server_default=None)
    with op.batch_alter_table("mailing_list") as batch:
        batch.add_column(sa.Column("archive", sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table("mailing_list") as batch:
        batch.alter_column("archive", server_default=None)
    _keep_memberships_trigger()
    with op.batch_alter_table("web_user") as batch:
        batch.add_column(sa.Column("time_zone", _str(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("web_user") as batch:
        batch.drop_column("time_zone")
    with op.batch_alter_table("mailing_list") as batch:
        batch.drop_column("archive")
    _keep_memberships_trigger()
    with op.batch_alter_table("campaign") as batch:
        batch.drop_constraint("fk_campaign_layout_id_message_template", type_="foreignkey")
        batch.drop_column("archived")
        batch.drop_column("layout_id")
        batch.drop_column("template_language")
    op.drop_table("message_template")

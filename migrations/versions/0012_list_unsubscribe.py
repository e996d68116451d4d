"""unsubscribe from one list: a suppression may name the list it applies to (none: every list, as before),
one row per address and scope; custom fields the subscriber may edit on the preference page

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 13:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _where(clause: str) -> dict[str, sa.TextClause]:
    return {"sqlite_where": sa.text(clause), "postgresql_where": sa.text(clause)}


def upgrade() -> None:
    with op.batch_alter_table("suppression") as batch:
        batch.add_column(sa.Column("list_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_suppression_list_id_mailing_list", "mailing_list", ["list_id"], ["id"], ondelete="CASCADE"
        )
        batch.drop_constraint("uq_suppression_email_key", type_="unique")
    op.create_index("uq_suppression_email_key", "suppression", ["email_key"], unique=True, **_where("list_id IS NULL"))
    op.create_index("uq_suppression_email_key_list", "suppression", ["email_key", "list_id"], unique=True)
    op.create_index("ix_suppression_list", "suppression", ["list_id"], **_where("list_id IS NOT NULL"))
    with op.batch_alter_table("custom_field") as batch:
        batch.add_column(sa.Column("subscriber_editable", sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table("custom_field") as batch:
        batch.alter_column("subscriber_editable", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("custom_field") as batch:
        batch.drop_column("subscriber_editable")
    op.execute("DELETE FROM suppression WHERE list_id IS NOT NULL")
    op.drop_index("ix_suppression_list", table_name="suppression")
    op.drop_index("uq_suppression_email_key_list", table_name="suppression")
    op.drop_index("uq_suppression_email_key", table_name="suppression")
    with op.batch_alter_table("suppression") as batch:
        batch.create_unique_constraint("uq_suppression_email_key", ["email_key"])
        batch.drop_constraint("fk_suppression_list_id_mailing_list", type_="foreignkey")
        batch.drop_column("list_id")

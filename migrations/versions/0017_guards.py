"""deliverability guards: why the guard paused a campaign and whether a marketer overrode it; the
indexes its rates and the unsubscribe report read

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 17:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _where(clause: str) -> dict[str, sa.TextClause]:
    return {"sqlite_where": sa.text(clause), "postgresql_where": sa.text(clause)}


def upgrade() -> None:
    with op.batch_alter_table("campaign") as batch:
        batch.add_column(sa.Column("guard_pause", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("guard_override", sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table("campaign") as batch:
        batch.alter_column("guard_override", server_default=None)
    op.create_index(
        "ix_delivery_campaign_attempted",
        "delivery",
        ["campaign_id", "last_attempt_at", "state"],
        **_where("last_attempt_at IS NOT NULL"),
    )
    op.create_index(
        "ix_suppression_campaign", "suppression", ["campaign_id", "created_at"], **_where("campaign_id IS NOT NULL")
    )


def downgrade() -> None:
    op.drop_index("ix_suppression_campaign", table_name="suppression")
    op.drop_index("ix_delivery_campaign_attempted", table_name="delivery")
    with op.batch_alter_table("campaign") as batch:
        batch.drop_column("guard_override")
        batch.drop_column("guard_pause")

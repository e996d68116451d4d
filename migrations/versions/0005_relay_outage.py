"""a campaign remembers that its relay is unreachable: since when, the next try, and why

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import app.models.types

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("campaign") as batch:
        batch.add_column(
            sa.Column("relay_unreachable_since", app.models.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch.add_column(sa.Column("relay_next_try_at", app.models.types.UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("relay_problem", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("campaign") as batch:
        batch.drop_column("relay_problem")
        batch.drop_column("relay_next_try_at")
        batch.drop_column("relay_unreachable_since")

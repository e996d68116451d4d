"""the sweep log records which process ran each sweep, so a sweep whose process died can be marked abandoned

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("mailbox_sweep") as batch:
        batch.add_column(sa.Column("owner", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("mailbox_sweep") as batch:
        batch.drop_column("owner")

"""sending windows and local-time delivery: a campaign's window (days and hours in a zone) and its local time

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-08 02:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("campaign") as batch:
        batch.add_column(sa.Column("send_window", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("local_time", sa.JSON(), nullable=True))


def downgrade() -> None:
    # a row waiting for its window is due work again at once, as before windows
    op.execute("UPDATE delivery SET state = CASE WHEN attempts > 0 THEN 'deferred' ELSE 'queued' END "
               "WHERE state = 'waiting'")  # fmt: skip
    with op.batch_alter_table("campaign") as batch:
        batch.drop_column("local_time")
        batch.drop_column("send_window")

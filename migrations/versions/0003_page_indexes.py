"""an index that lets the bounces page (and the API's bounce list) page newest first by keyset

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07 08:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Without it, every page of /bounces and its 30-day chart sorted or scanned the whole table.
    op.create_index("ix_bounce_created_id", "bounce", ["created_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_bounce_created_id", table_name="bounce")

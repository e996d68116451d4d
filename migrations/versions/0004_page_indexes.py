"""indexes that let the bounces page (and the API's bounce list) page newest first by keyset, alone or
within one kind, reason or campaign

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07 08:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# the single-column indexes on kind, reason and campaign_id are the prefixes of the new ones
_REPLACED = (("ix_bounce_kind", "kind"), ("ix_bounce_reason", "reason"), ("ix_bounce_campaign", "campaign_id"))


def upgrade() -> None:
    # Without them, every page of /bounces sorted every matching bounce (seconds at a million rows).
    op.create_index("ix_bounce_created_id", "bounce", ["created_at", "id"])
    for name, column in _REPLACED:
        op.create_index(f"ix_bounce_{name.removeprefix('ix_bounce_')}_created", "bounce", [column, "created_at", "id"])
        op.drop_index(name, table_name="bounce")


def downgrade() -> None:
    for name, column in _REPLACED:
        op.create_index(name, "bounce", [column])
        op.drop_index(f"ix_bounce_{name.removeprefix('ix_bounce_')}_created", table_name="bounce")
    op.drop_index("ix_bounce_created_id", table_name="bounce")

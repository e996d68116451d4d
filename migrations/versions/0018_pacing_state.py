"""per-receiving-domain pacing: each domain or provider's current rate, throttling and warm-up count

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 17:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.models.types import UTCDateTime

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pacing_state",
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("rate", sa.Float(), nullable=True),
        sa.Column("next_slot_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("throttled_until", UTCDateTime(timezone=True), nullable=True),
        sa.Column("throttles", sa.Integer(), nullable=False),
        sa.Column("successes", sa.Integer(), nullable=False),
        sa.Column("last_reply", sa.String(length=2000), nullable=True),
        sa.Column("first_day", sa.Date(), nullable=True),
        sa.Column("day", sa.Date(), nullable=True),
        sa.Column("sent_on_day", sa.Integer(), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )


def downgrade() -> None:
    op.drop_table("pacing_state")

"""indexes that let the bounce policy look up an address's bounces and last clean send directly

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 10:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Without these, SQLite walked every `sent` ledger row for each bounce it weighed.
    op.create_index("ix_delivery_email_key_state_sent", "delivery", ["email_key", "state", "sent_at"])
    op.drop_index("ix_delivery_email_key", table_name="delivery")
    op.create_index("ix_bounce_email_key_kind_created", "bounce", ["email_key", "kind", "created_at"])
    op.drop_index("ix_bounce_email_key_created", table_name="bounce")


def downgrade() -> None:
    op.create_index("ix_bounce_email_key_created", "bounce", ["email_key", "created_at"])
    op.drop_index("ix_bounce_email_key_kind_created", table_name="bounce")
    op.create_index("ix_delivery_email_key", "delivery", ["email_key"])
    op.drop_index("ix_delivery_email_key_state_sent", table_name="delivery")

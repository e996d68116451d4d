"""the ledger's claim index: (campaign, state, due time) in place of (state, due time) and (campaign, state)

A claim reads each sending campaign's due rows in due-time order and stops after a batch; with the old
indexes it read and sorted every due row of the campaign at every claim. One index instead of two also
makes each ledger write a little lighter.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07 21:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_delivery_campaign_due", "delivery", ["campaign_id", "state", "next_attempt_at"])
    op.drop_index("ix_delivery_due", table_name="delivery")
    op.drop_index("ix_delivery_campaign_state", table_name="delivery")


def downgrade() -> None:
    op.create_index("ix_delivery_campaign_state", "delivery", ["campaign_id", "state"])
    op.create_index("ix_delivery_due", "delivery", ["state", "next_attempt_at"])
    op.drop_index("ix_delivery_campaign_due", table_name="delivery")

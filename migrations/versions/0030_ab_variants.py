"""A/B tests: a campaign's variants (subject, from name, bodies), its test settings and winner, and each
ledger row's variant

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-08 03:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0030"
down_revision: str | None = "0029"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "campaign_variant",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("campaign_id", sa.Integer(), sa.ForeignKey("campaign.id", ondelete="CASCADE"), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=998), nullable=True),
        sa.Column("from_name", sa.String(length=200), nullable=True),
        sa.Column("html_template", sa.Text(), nullable=True),
        sa.Column("text_template", sa.Text(), nullable=True),
        sa.UniqueConstraint("campaign_id", "number", name="uq_campaign_variant_number"),
    )
    with op.batch_alter_table("campaign") as batch:
        batch.add_column(sa.Column("ab_test", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("ab_winner", sa.Integer(), nullable=True))
    # nullable, no default: PostgreSQL and SQLite add it without rewriting the ledger
    op.add_column("delivery", sa.Column("variant", sa.Integer(), nullable=True))


def downgrade() -> None:
    # rows parked for a winner that never came are cancelled: without variants nothing would release them
    op.execute("UPDATE delivery SET state = 'cancelled' WHERE state = 'waiting' AND next_attempt_at IS NULL")
    # in place on both databases (SQLite 3.35+): a rebuilt ledger would lose the triggers that keep its counts
    op.execute("ALTER TABLE delivery DROP COLUMN variant")
    with op.batch_alter_table("campaign") as batch:
        batch.drop_column("ab_winner")
        batch.drop_column("ab_test")
    op.drop_table("campaign_variant")

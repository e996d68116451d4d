"""opens and clicks: a campaign's tracking mode, its links, the hits, their hourly counts and the report's per-domain counts

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07 21:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.models.types import UTCDateTime

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("campaign") as batch:
        batch.add_column(sa.Column("tracking", sa.String(length=20), nullable=True))
    op.create_table(
        "campaign_link",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaign.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("campaign_id", "position", name="uq_campaign_link_position"),
    )
    op.create_table(
        "tracking_hit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("delivery_id", sa.Integer(), nullable=True),
        sa.Column("link", sa.Integer(), nullable=False),
        sa.Column("at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("signal", sa.String(length=20), nullable=True),
        sa.Column("machine", sa.Boolean(), nullable=True),
        sa.Column("reason", sa.String(length=20), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_tracking_hit_campaign_delivery", "tracking_hit", ["campaign_id", "delivery_id"])
    where = {"sqlite_where": sa.text("delivery_id IS NOT NULL"), "postgresql_where": sa.text("delivery_id IS NOT NULL")}
    op.create_index("ix_tracking_hit_delivery", "tracking_hit", ["delivery_id", "at"], **where)  # type: ignore[arg-type]
    unsettled = {"sqlite_where": sa.text("machine IS NULL"), "postgresql_where": sa.text("machine IS NULL")}
    op.create_index("ix_tracking_hit_unsettled", "tracking_hit", ["id"], **unsettled)  # type: ignore[arg-type]
    op.create_table(
        "tracking_count",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("hour", UTCDateTime(timezone=True), nullable=False),
        sa.Column("link", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=20), nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.Column("firsts", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("campaign_id", "hour", "link", "reason"),
    )
    op.create_table(
        "campaign_domain_count",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("domain", sa.String(length=255), nullable=False),
        sa.Column("recipients", sa.Integer(), nullable=False),
        sa.Column("sent", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("computed_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("campaign_id", "domain"),
    )


def downgrade() -> None:
    op.drop_table("campaign_domain_count")
    op.drop_table("tracking_count")
    op.drop_table("tracking_hit")
    op.drop_table("campaign_link")
    with op.batch_alter_table("campaign") as batch:
        batch.drop_column("tracking")

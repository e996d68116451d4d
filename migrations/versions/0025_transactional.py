"""transactional messages in the ledger: a campaign's kind (a transactional stream per sending identity), a
ledger row's transactional flag (the one-row-per-address rule holds for bulk rows only), and each transactional
message's content and attribution

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-08 02:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.models.types import UTCDateTime

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# the ledger's partial indexes: dropped before SQLite's table rebuild and made again after it (the rebuild
# would make them again from what it reads of them, without their WHERE)
_PARTIAL = (
    ("ix_delivery_email_key_state_sent", ["email_key", "state", "sent_at"], False, "sent_at IS NOT NULL"),
    (
        "ix_delivery_campaign_attempted",
        ["campaign_id", "last_attempt_at", "state"],
        False,
        "last_attempt_at IS NOT NULL",
    ),
    ("ix_delivery_message_id", ["message_id"], False, "message_id IS NOT NULL"),
    ("uq_delivery_verp_token", ["verp_token"], True, "verp_token IS NOT NULL"),
)
_BULK_ONLY = "NOT transactional"


def _where(clause: str) -> dict[str, sa.TextClause]:
    return {"sqlite_where": sa.text(clause), "postgresql_where": sa.text(clause)}


def upgrade() -> None:
    with op.batch_alter_table("campaign") as batch:
        batch.add_column(sa.Column("kind", sa.String(length=20), nullable=False, server_default="bulk"))
    for name, _, _, _ in _PARTIAL:
        op.drop_index(name, table_name="delivery")
    transactional = sa.Column("transactional", sa.Boolean(), nullable=False, server_default=sa.false())
    if op.get_bind().dialect.name == "sqlite":  # a table constraint: only a rebuild drops it (foreign keys off)
        with op.batch_alter_table("delivery", recreate="always") as batch:
            batch.add_column(transactional)
            batch.drop_constraint("uq_delivery_campaign_email", type_="unique")
    else:
        op.add_column("delivery", transactional)
        op.drop_constraint("uq_delivery_campaign_email", "delivery", type_="unique")
    op.create_index(
        "uq_delivery_campaign_email", "delivery", ["campaign_id", "email_key"], unique=True, **_where(_BULK_ONLY)
    )
    for name, columns, unique, where in _PARTIAL:
        op.create_index(name, "delivery", columns, unique=unique, **_where(where))
    op.create_table(
        "message_content",
        sa.Column("delivery_id", sa.Integer(), nullable=False),
        sa.Column("api_key_id", sa.Integer(), nullable=True),
        sa.Column("reference", sa.String(length=200), nullable=False),
        sa.Column("template_id", sa.Integer(), nullable=True),
        sa.Column("from_name", sa.String(length=200), nullable=False),
        sa.Column("from_address", sa.String(length=320), nullable=False),
        sa.Column("reply_to", sa.String(length=320), nullable=True),
        sa.Column("subject", sa.String(length=998), nullable=False),
        sa.Column("html", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["delivery_id"], ["delivery.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["api_key_id"], ["api_key.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("delivery_id"),
    )


def downgrade() -> None:
    op.drop_table("message_content")
    op.execute("DELETE FROM delivery WHERE transactional")  # bulk rows only fit the one-row-per-address rule
    op.execute("DELETE FROM campaign WHERE kind = 'transactional'")
    op.drop_index("uq_delivery_campaign_email", table_name="delivery")
    for name, _, _, _ in _PARTIAL:
        op.drop_index(name, table_name="delivery")
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table("delivery", recreate="always") as batch:
            batch.drop_column("transactional")
            batch.create_unique_constraint("uq_delivery_campaign_email", ["campaign_id", "email_key"])
    else:
        op.drop_column("delivery", "transactional")
        op.create_unique_constraint("uq_delivery_campaign_email", "delivery", ["campaign_id", "email_key"])
    for name, columns, unique, where in _PARTIAL:
        op.create_index(name, "delivery", columns, unique=unique, **_where(where))
    with op.batch_alter_table("campaign") as batch:
        batch.drop_column("kind")

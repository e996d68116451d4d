"""several relays (weights, failover, their state) and sending identities (From domain, DKIM key sealed,
bounce address, default headers); a campaign may name its identity, its relays and custom headers

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 17:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import app.models.types

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _str(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def _when(name: str, nullable: bool = True) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, app.models.types.UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "relay",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", _str(200), nullable=False),
        sa.Column("host", _str(300), nullable=False),
        sa.Column("port", sa.Integer(), nullable=False),
        sa.Column("security", _str(20), nullable=False),
        sa.Column("username", _str(300), nullable=True),
        sa.Column("password_sealed", sa.Text(), nullable=True),
        sa.Column("connections", sa.Integer(), nullable=False),
        sa.Column("rate", sa.Float(), nullable=False),
        sa.Column("weight", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        _when("down_since"),
        sa.Column("last_error", _str(2000), nullable=True),
        _when("last_ok_at"),
        _when("created_at", False),
        _when("updated_at", False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "sending_identity",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", _str(200), nullable=False),
        sa.Column("from_domain", _str(300), nullable=False),
        sa.Column("from_name", _str(200), nullable=False),
        sa.Column("reply_to", _str(320), nullable=True),
        sa.Column("bounce_address", _str(320), nullable=False),
        sa.Column("relay_ids", sa.JSON(), nullable=False),
        sa.Column("dkim_selector", _str(63), nullable=False),
        sa.Column("dkim_private_key_sealed", sa.Text(), nullable=False),
        sa.Column("dkim_public_key", sa.Text(), nullable=False),
        sa.Column("headers", sa.JSON(), nullable=False),
        _when("created_at", False),
        _when("updated_at", False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    with op.batch_alter_table("campaign") as batch:
        batch.add_column(sa.Column("identity_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("relay_ids", sa.JSON(), nullable=False, server_default=sa.text("'[]'")))
        batch.add_column(sa.Column("headers", sa.JSON(), nullable=False, server_default=sa.text("'{}'")))
        batch.create_foreign_key(
            "fk_campaign_identity_id_sending_identity", "sending_identity", ["identity_id"], ["id"]
        )
    with op.batch_alter_table("campaign") as batch:
        batch.alter_column("relay_ids", server_default=None)
        batch.alter_column("headers", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("campaign") as batch:
        batch.drop_constraint("fk_campaign_identity_id_sending_identity", type_="foreignkey")
        batch.drop_column("headers")
        batch.drop_column("relay_ids")
        batch.drop_column("identity_id")
    op.drop_table("sending_identity")
    op.drop_table("relay")

"""the ledger costs less per recipient at launch: no foreign keys on delivery.campaign_id and
delivery.contact_id, and the indexes that only matter once a row has gone out are partial

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 11:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# SQLite's constraints from 0001 have no names; the batch rebuild names them by this convention
_NAMES = {
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
}
_PARTIAL = (
    ("ix_delivery_email_key_state_sent", ["email_key", "state", "sent_at"], False, "sent_at IS NOT NULL"),
    ("ix_delivery_message_id", ["message_id"], False, "message_id IS NOT NULL"),
    ("uq_delivery_verp_token", ["verp_token"], True, "verp_token IS NOT NULL"),
)


def _where(clause: str) -> dict[str, sa.TextClause]:
    return {"sqlite_where": sa.text(clause), "postgresql_where": sa.text(clause)}


def upgrade() -> None:
    op.drop_index("ix_delivery_email_key_state_sent", table_name="delivery")
    op.drop_index("ix_delivery_message_id", table_name="delivery")
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        # a rebuild of the table (app.migrate runs it with SQLite's foreign keys off, so dropping the
        # old table runs no ON DELETE action of the tables that refer to it)
        with op.batch_alter_table("delivery", naming_convention=_NAMES, recreate="always") as batch:
            batch.drop_constraint("fk_delivery_campaign_id_campaign", type_="foreignkey")
            batch.drop_constraint("fk_delivery_contact_id_contact", type_="foreignkey")
            batch.drop_constraint("uq_delivery_verp_token", type_="unique")
    else:
        inspector = sa.inspect(bind)
        for fk in inspector.get_foreign_keys("delivery"):
            if fk["referred_table"] in ("campaign", "contact"):
                op.drop_constraint(fk["name"], "delivery", type_="foreignkey")
        for unique in inspector.get_unique_constraints("delivery"):
            if unique["column_names"] == ["verp_token"]:
                op.drop_constraint(unique["name"], "delivery", type_="unique")
    for name, columns, unique, where in _PARTIAL:
        op.create_index(name, "delivery", columns, unique=unique, **_where(where))


def downgrade() -> None:
    for name, _, _, _ in _PARTIAL:
        op.drop_index(name, table_name="delivery")
    with op.batch_alter_table("delivery") as batch:
        batch.create_unique_constraint("uq_delivery_verp_token", ["verp_token"])
        batch.create_foreign_key(
            "fk_delivery_campaign_id_campaign", "campaign", ["campaign_id"], ["id"], ondelete="CASCADE"
        )
        batch.create_foreign_key(
            "fk_delivery_contact_id_contact", "contact", ["contact_id"], ["id"], ondelete="SET NULL"
        )
    op.create_index("ix_delivery_message_id", "delivery", ["message_id"])
    op.create_index("ix_delivery_email_key_state_sent", "delivery", ["email_key", "state", "sent_at"])

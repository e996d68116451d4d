"""contacts whose address has a non-ASCII local part, in a partial index: the compile counts those of
the chosen lists (needs_smtputf8) from it instead of reading every chosen contact's address; on
PostgreSQL, statistics on the same expression tell the planner how few they are

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 18:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# the same expressions as app.models.audience.NOT_ASCII (bytes beyond characters)
SQLITE = "length(CAST(email AS BLOB)) - length(email) > 0"
POSTGRESQL = "octet_length(email) - length(email) > 0"


def upgrade() -> None:
    op.create_index(
        "ix_contact_not_ascii",
        "contact",
        ["id"],
        sqlite_where=sa.text(SQLITE),
        postgresql_where=sa.text(POSTGRESQL),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE STATISTICS st_contact_not_ascii ON (octet_length(email) - length(email)) FROM contact")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP STATISTICS IF EXISTS st_contact_not_ascii")
    op.drop_index("ix_contact_not_ascii", table_name="contact")

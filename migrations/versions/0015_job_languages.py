"""the language an import's reject reasons are written in (the page's that started it), an invitation's
language (its mail, its page and the user it makes), and a queued signup's (the new contact's)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 18:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


TABLES = ("import_job", "user_invite", "signup_request")


def upgrade() -> None:
    # nullable: the imports and invitations there are keep English
    for table in TABLES:
        op.add_column(table, sa.Column("language", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True))


def downgrade() -> None:
    for table in reversed(TABLES):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("language")

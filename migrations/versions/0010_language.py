"""the language of a user's pages and of a contact's subscriber pages

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 13:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # nullable: the users and contacts there are keep following the browser's language
    op.add_column("web_user", sa.Column("language", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True))
    op.add_column("contact", sa.Column("language", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("contact") as batch:
        batch.drop_column("language")
    with op.batch_alter_table("web_user") as batch:
        batch.drop_column("language")

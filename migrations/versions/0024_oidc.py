"""sign-in through the organisation's identity provider: a user's OpenID Connect identity (issuer and subject)

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-08 02:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _str(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def upgrade() -> None:
    with op.batch_alter_table("web_user") as batch:
        batch.add_column(sa.Column("oidc_issuer", _str(255), nullable=True))
        batch.add_column(sa.Column("oidc_subject", _str(255), nullable=True))
        batch.create_unique_constraint("uq_web_user_oidc", ["oidc_issuer", "oidc_subject"])


def downgrade() -> None:
    with op.batch_alter_table("web_user") as batch:
        batch.drop_constraint("uq_web_user_oidc", type_="unique")
        batch.drop_column("oidc_subject")
        batch.drop_column("oidc_issuer")

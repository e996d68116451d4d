"""two-factor seeds sealed at rest: the column widened for a sealed value (app/sealed.py), each stored
plain seed sealed; the downgrade opens them again. Signup requests: the queue a signup's request writes
its one row to, carried out by the background job

The key is the one of the settings the upgrading command runs with (BULKMAIL_SEAL_KEY, else
DATA_DIR/seal.key, created on first use), which is the key every bulkmail command on that machine reads.
Machines sharing a PostgreSQL database must set the same BULKMAIL_SEAL_KEY before upgrading.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 17:45:00
"""

from collections.abc import Callable, Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import app.models.types
from app.sealed import seal, unseal
from app.settings import get_settings

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SEALED = "gAAAAA"  # how every sealed value (a Fernet token) starts; a base32 seed never does


def _rewrite(change: Callable[[str], str], sealed: bool) -> None:
    users = sa.table("web_user", sa.column("id", sa.Integer()), sa.column("totp_secret", sa.String()))
    conn = op.get_bind()
    rows = conn.execute(sa.select(users.c.id, users.c.totp_secret).where(users.c.totp_secret.is_not(None))).all()
    for user_id, value in rows:
        if value.startswith(_SEALED) != sealed:
            continue
        conn.execute(sa.update(users).where(users.c.id == user_id).values(totp_secret=change(value)))


def _widen(was: int, to: int) -> None:
    with op.batch_alter_table("web_user") as batch:
        batch.alter_column(
            "totp_secret",
            existing_type=sqlmodel.sql.sqltypes.AutoString(length=was),
            type_=sqlmodel.sql.sqltypes.AutoString(length=to),
            existing_nullable=True,
        )


def upgrade() -> None:
    _widen(64, 255)  # a sealed 32-character seed takes 140
    settings = get_settings()
    _rewrite(lambda plain: seal(settings, plain), sealed=False)
    op.create_table(
        "signup_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("list_id", sa.Integer(), nullable=False),
        sa.Column("email", sqlmodel.sql.sqltypes.AutoString(length=320), nullable=False),
        sa.Column("first_name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("last_name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("consent_version", sa.Integer(), nullable=True),
        sa.Column("public_only", sa.Boolean(), nullable=False),
        sa.Column("actor_kind", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("actor", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("ip", sqlmodel.sql.sqltypes.AutoString(length=45), nullable=True),
        sa.Column("user_agent", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
        sa.Column("created_at", app.models.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("signup_request")  # requests not yet carried out are lost: as if never posted
    settings = get_settings()
    _rewrite(lambda sealed: unseal(settings, sealed), sealed=True)
    _widen(255, 64)

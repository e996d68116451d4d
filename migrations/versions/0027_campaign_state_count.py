"""each campaign's ledger rows per state, counted by triggers on delivery as rows are written

A later revision that rebuilds `delivery` on SQLite (batch_alter_table) must create its triggers again.

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-08 02:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# PostgreSQL: one trigger per statement reads the rows it changed (transition tables) and adds the
# differences per campaign and state to the transaction's own rows (part = its id); nothing is added when
# no state changed (a lease taken, say)
_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION campaign_state_count_delta() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO campaign_state_count AS c (campaign_id, state, part, n)
    SELECT campaign_id, state, txid_current(), count(*) FROM new_rows GROUP BY campaign_id, state
    ON CONFLICT (campaign_id, state, part) DO UPDATE SET n = c.n + excluded.n;
  ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO campaign_state_count AS c (campaign_id, state, part, n)
    SELECT campaign_id, state, txid_current(), -count(*) FROM old_rows GROUP BY campaign_id, state
    ON CONFLICT (campaign_id, state, part) DO UPDATE SET n = c.n + excluded.n;
  ELSE
    INSERT INTO campaign_state_count AS c (campaign_id, state, part, n)
    SELECT campaign_id, state, txid_current(), sum(n) FROM (
      SELECT campaign_id, state, count(*) AS n FROM new_rows GROUP BY campaign_id, state
      UNION ALL
      SELECT campaign_id, state, -count(*) AS n FROM old_rows GROUP BY campaign_id, state
    ) AS d GROUP BY campaign_id, state HAVING sum(n) <> 0
    ON CONFLICT (campaign_id, state, part) DO UPDATE SET n = c.n + excluded.n;
  END IF;
  RETURN NULL;
END $$
"""
_PG_TRIGGERS = {
    "INSERT": "REFERENCING NEW TABLE AS new_rows",
    "UPDATE": "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
    "DELETE": "REFERENCING OLD TABLE AS old_rows",
}


def _sqlite_add(row: str, sign: str) -> str:
    """The statement that adds SIGN 1 to ROW's (old or new) campaign and state."""
    return (
        f"INSERT INTO campaign_state_count (campaign_id, state, part, n) VALUES ({row}.campaign_id, {row}.state, 0, "
        f"{sign}1) ON CONFLICT (campaign_id, state, part) DO UPDATE SET n = n {sign} 1; "
    )


def upgrade() -> None:
    op.create_table(
        "campaign_state_count",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("part", sa.BigInteger(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("campaign_id", "state", "part"),
    )
    op.execute(
        "INSERT INTO campaign_state_count (campaign_id, state, part, n) "
        "SELECT campaign_id, state, 0, count(*) FROM delivery GROUP BY campaign_id, state"
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_FUNCTION)
        for verb, referencing in _PG_TRIGGERS.items():
            op.execute(
                f"CREATE TRIGGER delivery_state_count_{verb.lower()} AFTER {verb} ON delivery {referencing} "
                "FOR EACH STATEMENT EXECUTE FUNCTION campaign_state_count_delta()"
            )
        return
    op.execute(
        f"CREATE TRIGGER delivery_state_count_insert AFTER INSERT ON delivery BEGIN {_sqlite_add('new', '+')}END"
    )
    op.execute(
        f"CREATE TRIGGER delivery_state_count_delete AFTER DELETE ON delivery BEGIN {_sqlite_add('old', '-')}END"
    )
    op.execute(
        "CREATE TRIGGER delivery_state_count_update AFTER UPDATE OF state, campaign_id ON delivery "
        "WHEN old.state IS NOT new.state OR old.campaign_id IS NOT new.campaign_id "
        f"BEGIN {_sqlite_add('old', '-')}{_sqlite_add('new', '+')}END"
    )


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for verb in ("insert", "update", "delete"):
        op.execute(f"DROP TRIGGER IF EXISTS delivery_state_count_{verb}" + (" ON delivery" if postgresql else ""))
    if postgresql:
        op.execute("DROP FUNCTION IF EXISTS campaign_state_count_delta()")
    op.drop_table("campaign_state_count")

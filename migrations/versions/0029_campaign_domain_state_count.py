"""each campaign's ledger rows per receiving domain and state, counted by triggers on delivery as rows are
written (in place of the per-domain counts the report made of the ledger once and the scheduler refreshed)

A later revision that rebuilds `delivery` on SQLite (batch_alter_table) must create its triggers again.

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-08 03:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.models.types import UTCDateTime

revision: str = "0029"
down_revision: str | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# the domain of an address key: what follows its "@" ("" for a key without one, an erased address)
_PG_DOMAIN = "split_part(email_key, '@', 2)"


def _sqlite_domain(row: str) -> str:
    key = f"{row}.email_key"
    return f"CASE WHEN instr({key}, '@') > 0 THEN substr({key}, instr({key}, '@') + 1) ELSE '' END"


# PostgreSQL: as campaign_state_count's (0027), one trigger per statement adds the statement's differences
# per campaign, domain and state to its transaction's own rows (part = its id); an UPDATE that changed no
# row's state, campaign or address (a lease taken, say) adds nothing and reads no address
_PG_FUNCTION = f"""
CREATE OR REPLACE FUNCTION campaign_domain_state_count_delta() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO campaign_domain_state_count AS c (campaign_id, domain, state, part, n)
    SELECT campaign_id, {_PG_DOMAIN}, state, txid_current(), count(*) FROM new_rows GROUP BY 1, 2, 3
    ON CONFLICT (campaign_id, domain, state, part) DO UPDATE SET n = c.n + excluded.n;
  ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO campaign_domain_state_count AS c (campaign_id, domain, state, part, n)
    SELECT campaign_id, {_PG_DOMAIN}, state, txid_current(), -count(*) FROM old_rows GROUP BY 1, 2, 3
    ON CONFLICT (campaign_id, domain, state, part) DO UPDATE SET n = c.n + excluded.n;
  ELSE
    INSERT INTO campaign_domain_state_count AS c (campaign_id, domain, state, part, n)
    SELECT campaign_id, domain, state, txid_current(), sum(n) FROM (
      SELECT o.campaign_id, split_part(o.email_key, '@', 2) AS domain, o.state, -1 AS n
      FROM old_rows o JOIN new_rows w ON w.id = o.id
      WHERE o.state IS DISTINCT FROM w.state OR o.campaign_id IS DISTINCT FROM w.campaign_id
         OR o.email_key IS DISTINCT FROM w.email_key
      UNION ALL
      SELECT w.campaign_id, split_part(w.email_key, '@', 2), w.state, 1
      FROM old_rows o JOIN new_rows w ON w.id = o.id
      WHERE o.state IS DISTINCT FROM w.state OR o.campaign_id IS DISTINCT FROM w.campaign_id
         OR o.email_key IS DISTINCT FROM w.email_key
    ) AS d GROUP BY campaign_id, domain, state HAVING sum(n) <> 0
    ON CONFLICT (campaign_id, domain, state, part) DO UPDATE SET n = c.n + excluded.n;
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
    """The statement that adds SIGN 1 to ROW's (old or new) campaign, domain and state."""
    return (
        "INSERT INTO campaign_domain_state_count (campaign_id, domain, state, part, n) "
        f"VALUES ({row}.campaign_id, {_sqlite_domain(row)}, {row}.state, 0, {sign}1) "
        f"ON CONFLICT (campaign_id, domain, state, part) DO UPDATE SET n = n {sign} 1; "
    )


def upgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    op.create_table(
        "campaign_domain_state_count",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("domain", sa.String(length=320), nullable=False),  # no longer than an address key
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("part", sa.BigInteger(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("campaign_id", "domain", "state", "part"),
    )
    domain = _PG_DOMAIN if postgresql else _sqlite_domain("delivery")
    op.execute(
        "INSERT INTO campaign_domain_state_count (campaign_id, domain, state, part, n) "
        f"SELECT campaign_id, {domain}, state, 0, count(*) FROM delivery GROUP BY 1, 2, 3"
    )
    op.drop_table("campaign_domain_count")
    if postgresql:
        op.execute(_PG_FUNCTION)
        for verb, referencing in _PG_TRIGGERS.items():
            op.execute(
                f"CREATE TRIGGER delivery_domain_count_{verb.lower()} AFTER {verb} ON delivery {referencing} "
                "FOR EACH STATEMENT EXECUTE FUNCTION campaign_domain_state_count_delta()"
            )
        return
    op.execute(
        f"CREATE TRIGGER delivery_domain_count_insert AFTER INSERT ON delivery BEGIN {_sqlite_add('new', '+')}END"
    )
    op.execute(
        f"CREATE TRIGGER delivery_domain_count_delete AFTER DELETE ON delivery BEGIN {_sqlite_add('old', '-')}END"
    )
    op.execute(
        "CREATE TRIGGER delivery_domain_count_update AFTER UPDATE OF state, campaign_id, email_key ON delivery "
        "WHEN old.state IS NOT new.state OR old.campaign_id IS NOT new.campaign_id "
        "OR old.email_key IS NOT new.email_key "
        f"BEGIN {_sqlite_add('old', '-')}{_sqlite_add('new', '+')}END"
    )


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for verb in ("insert", "update", "delete"):
        op.execute(f"DROP TRIGGER IF EXISTS delivery_domain_count_{verb}" + (" ON delivery" if postgresql else ""))
    if postgresql:
        op.execute("DROP FUNCTION IF EXISTS campaign_domain_state_count_delta()")
    op.drop_table("campaign_domain_state_count")
    op.create_table(  # empty: the report counts the ledger again at its next view
        "campaign_domain_count",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("domain", sa.String(length=255), nullable=False),
        sa.Column("recipients", sa.Integer(), nullable=False),
        sa.Column("sent", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("computed_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("campaign_id", "domain"),
    )

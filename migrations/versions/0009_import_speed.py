"""imports cost less per row: list memberships carry no foreign keys (their cascades are triggers on
the contact and the list), and the CMS id's unique index leaves out the contacts that have none

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 13:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# SQLite's constraints from 0001 have no names; the batch rebuild names them by this convention
_NAMES = {
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
}
_PARENTS = (("contact", "contact_id"), ("mailing_list", "list_id"))
_EXTERNAL_ID = "uq_contact_external_id"


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        # a rebuild of each table (app.migrate runs it with SQLite's foreign keys off, so dropping the old
        # table runs no ON DELETE action of the tables that refer to it)
        with op.batch_alter_table("list_member", naming_convention=_NAMES, recreate="always") as batch:
            batch.drop_constraint("fk_list_member_list_id_mailing_list", type_="foreignkey")
            batch.drop_constraint("fk_list_member_contact_id_contact", type_="foreignkey")
            batch.drop_constraint("fk_list_member_import_id_import_job", type_="foreignkey")
        with op.batch_alter_table("contact", naming_convention=_NAMES, recreate="always") as batch:
            batch.drop_constraint("uq_contact_external_id", type_="unique")
        for parent, column in _PARENTS:
            op.execute(
                f"CREATE TRIGGER {parent}_members_gone AFTER DELETE ON {parent} BEGIN "
                f"DELETE FROM list_member WHERE {column} = OLD.id; END"
            )
    else:
        inspector = sa.inspect(bind)
        for fk in inspector.get_foreign_keys("list_member"):
            op.drop_constraint(fk["name"], "list_member", type_="foreignkey")
        for unique in inspector.get_unique_constraints("contact"):
            if unique["column_names"] == ["external_id"]:
                op.drop_constraint(unique["name"], "contact", type_="unique")
        for parent, column in _PARENTS:
            op.execute(
                f"CREATE OR REPLACE FUNCTION {parent}_members_gone() RETURNS trigger LANGUAGE plpgsql AS $$ "
                f"BEGIN DELETE FROM list_member WHERE {column} = OLD.id; RETURN NULL; END $$"
            )
            op.execute(
                f"CREATE TRIGGER {parent}_members_gone AFTER DELETE ON {parent} "
                f"FOR EACH ROW EXECUTE FUNCTION {parent}_members_gone()"
            )
    op.create_index(
        _EXTERNAL_ID,
        "contact",
        ["external_id"],
        unique=True,
        sqlite_where=sa.text("external_id IS NOT NULL"),
        postgresql_where=sa.text("external_id IS NOT NULL"),
    )


def downgrade() -> None:
    bind = op.get_bind()
    op.drop_index(_EXTERNAL_ID, table_name="contact")
    for parent, _ in _PARENTS:
        if bind.dialect.name == "sqlite":
            op.execute(f"DROP TRIGGER IF EXISTS {parent}_members_gone")
        else:
            op.execute(f"DROP TRIGGER IF EXISTS {parent}_members_gone ON {parent}")
            op.execute(f"DROP FUNCTION IF EXISTS {parent}_members_gone()")
    # memberships whose contact, list or import is gone would fail the foreign keys
    op.execute("DELETE FROM list_member WHERE contact_id NOT IN (SELECT id FROM contact)")
    op.execute("DELETE FROM list_member WHERE list_id NOT IN (SELECT id FROM mailing_list)")
    op.execute("UPDATE list_member SET import_id = NULL WHERE import_id NOT IN (SELECT id FROM import_job)")
    with op.batch_alter_table("contact") as batch:
        batch.create_unique_constraint("uq_contact_external_id", ["external_id"])
    with op.batch_alter_table("list_member") as batch:
        batch.create_foreign_key(
            "fk_list_member_list_id_mailing_list", "mailing_list", ["list_id"], ["id"], ondelete="CASCADE"
        )
        batch.create_foreign_key(
            "fk_list_member_contact_id_contact", "contact", ["contact_id"], ["id"], ondelete="CASCADE"
        )
        batch.create_foreign_key(
            "fk_list_member_import_id_import_job", "import_job", ["import_id"], ["id"], ondelete="SET NULL"
        )

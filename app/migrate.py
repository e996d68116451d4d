"""Alembic, driven from code so no alembic.ini is needed wherever bulkmail runs.

Every command upgrades the database before it starts; loading Alembic and the migrations costs more than
most commands themselves, so `upgrade` first compares the database's revision with the head read from the
migration files, and loads Alembic only when they differ."""

import re
from typing import TYPE_CHECKING

from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from app.paths import MIGRATIONS

if TYPE_CHECKING:
    from alembic.config import Config

UPGRADE_LOCK = 0x62756C6B  # "bulk": the advisory lock an upgrade on PostgreSQL holds until it commits
_REVISION = re.compile(r'^revision(?:\s*:\s*str)?\s*=\s*"(\w+)"', re.MULTILINE)
_DOWN_REVISION = re.compile(r"^down_revision(?:\s*:[^=]*)?=\s*(.+)$", re.MULTILINE)


def alembic_config(database_url: str) -> "Config":
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    # ConfigParser treats % as interpolation; escape it for URLs with encoded characters
    cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return cfg


def head() -> str | None:
    """The head revision, read from the migration files without importing them; None when they do not
    name exactly one (a branch, or a form this reading does not know: Alembic then decides)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        source = path.read_text(encoding="utf-8")
        revision, down = _REVISION.findall(source), _DOWN_REVISION.findall(source)
        if len(revision) != 1 or len(down) != 1:
            return None
        revisions.add(revision[0])
        parents.update(re.findall(r'"(\w+)"', down[0]))
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def known_revisions() -> set[str]:
    """Every revision the migration files name: a database at any other one was made by a newer bulkmail."""
    return {r for path in (MIGRATIONS / "versions").glob("*.py") for r in _REVISION.findall(path.read_text("utf-8"))}


def _at_head(engine: Engine) -> bool:
    expected = head()
    if expected is None:
        return False
    try:
        with engine.connect() as conn:
            found = set(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())
    except DBAPIError:  # no alembic_version table yet: a new database
        return False
    return found == {expected}


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database up to `revision`; a no-op when it is already there.

    On SQLite the migrations run with foreign keys off, as a table rebuild (batch mode) needs: with
    them on, dropping the old table would run the ON DELETE actions of every table that refers to it
    (deleting a ledger's attempts, say)."""
    if revision == "head" and _at_head(engine):
        return
    from alembic import command

    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:  # outside any transaction: the pragma is a no-op inside one
            conn.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")  # type: ignore[union-attr]
        try:
            with conn.begin():
                if not sqlite:  # processes starting together (a web and a worker container) upgrade one by one
                    conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": UPGRADE_LOCK})
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, revision)
        finally:
            if sqlite:
                conn.connection.driver_connection.execute("PRAGMA foreign_keys=ON")  # type: ignore[union-attr]


def current(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()

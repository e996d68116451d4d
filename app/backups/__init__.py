"""`bulkmail backup FILE` and `bulkmail restore FILE`: a copy of the whole database, taken while the service
runs, and that copy put back into an empty database (or, with force, over one that holds data).

SQLite is copied with SQLite's online backup API (a consistent copy page by page, while the workers write);
PostgreSQL with `pg_dump -Fc` and `pg_restore` of the configured database. After a restore the schema is
brought up to date, so a backup of an older bulkmail restores into a newer one. The sealed secrets (DKIM keys,
relay passwords, two-factor seeds) stay sealed in the copy: restoring them needs the same seal key
(BULKMAIL_SEAL_KEY or DATA_DIR/seal.key), which is not in the database and must be kept apart from it."""

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, inspect, select, text
from sqlmodel import SQLModel

from app.backups import postgres, sqlite
from app.backups.errors import BackupFailed
from app.db import is_sqlite
from app.migrate import current, known_revisions, upgrade
from app.models import StoredSetting
from app.settings import Settings

__all__ = ["BackupFailed", "Backup", "Restored", "backup", "restore"]

# tables bulkmail fills by itself on its first start, and what it keeps about its processes: a database holding
# rows only there (and the generated token key in stored_setting) is still empty
SELF_WRITTEN = frozenset({"alembic_version", "job_lock", "worker_heartbeat", "metric_counter", "rate_bucket"})
GENERATED_SETTINGS = frozenset({"secret_key"})


@dataclass(frozen=True)
class Backup:
    path: Path
    size: int
    revision: str | None


@dataclass(frozen=True)
class Restored:
    from_revision: str
    to_revision: str | None
    replaced: bool  # the target held data (force)


def backup(settings: Settings, engine: Engine, target: Path) -> Backup:
    """Write a copy of the database to TARGET (replaced when it exists, only once the copy is complete)."""
    revision = current(engine)
    target = target.expanduser().resolve()
    if target.is_dir():
        raise BackupFailed(f"{target} is a directory: name the backup file")
    if not target.parent.is_dir():
        raise BackupFailed(f"{target.parent} does not exist")
    if is_sqlite(settings.database_url):
        sqlite.backup(settings.database_url, target)
    else:
        postgres.backup(settings.database_url, target)
    return Backup(target, target.stat().st_size, revision)


def restore(settings: Settings, engine: Engine, source: Path, force: bool = False) -> Restored:
    """Put the backup SOURCE into the configured database: refused when that holds data unless FORCE."""
    source = source.expanduser().resolve()
    if not source.is_file():
        raise BackupFailed(f"{source} is not a file")
    on_sqlite = is_sqlite(settings.database_url)
    revision = sqlite.revision_of(source) if on_sqlite else postgres.revision_of(source)
    if revision not in known_revisions():
        raise BackupFailed(
            f"{source} was made by a newer bulkmail (schema revision {revision}); restore it with that version"
        )
    held = holds_data(engine)
    if held and not force:
        raise BackupFailed(
            f"the database is not empty ({held} holds rows); restore into an empty database, or pass --force "
            "to replace everything it holds"
        )
    if on_sqlite:
        sqlite.restore(settings.database_url, source)
    else:
        if held or _has_tables(engine):
            _drop_bulkmail_tables(engine)  # a newer schema's tables would be left beside the restored ones
        postgres.restore(settings.database_url, source)
    engine.dispose()  # pooled connections still know the tables as they were
    upgrade(engine)
    return Restored(revision, current(engine), bool(held))


def holds_data(engine: Engine) -> str | None:
    """The first table holding data, or None for an empty database (no tables, or only what bulkmail
    writes by itself when it starts)."""
    tables = set(inspect(engine).get_table_names())
    with engine.connect() as conn:
        for table in sorted(tables - SELF_WRITTEN):
            if table == StoredSetting.__tablename__:
                keys = conn.execute(select(StoredSetting.key)).scalars()  # type: ignore[call-overload]
                if set(keys) - GENERATED_SETTINGS:
                    return table
            elif conn.execute(text(f'SELECT 1 FROM "{table}" LIMIT 1')).first() is not None:
                return table
    return None


def _has_tables(engine: Engine) -> bool:
    return bool(inspect(engine).get_table_names())


def _drop_bulkmail_tables(engine: Engine) -> None:
    SQLModel.metadata.drop_all(engine)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))

"""SQLite: the online backup API copies a consistent state of the database while other connections write
(each step copies some pages and starts over only if a writer changed what was already copied)."""

import os
import sqlite3
from pathlib import Path

from sqlalchemy import make_url

from app.backups.errors import BackupFailed
from app.db import SQLITE_BUSY_TIMEOUT_MS

HEADER = b"SQLite format 3\x00"
PAGES_PER_STEP = 1024  # a writer waits at most one step's copy for the lock


def _path(database_url: str) -> str:
    database = make_url(database_url).database
    if not database or database == ":memory:":
        raise BackupFailed("the configured SQLite database is in memory: there is nothing to back up")
    return database


def _connect(path: str | Path) -> sqlite3.Connection:
    return sqlite3.connect(path, timeout=SQLITE_BUSY_TIMEOUT_MS / 1000)


def _read_only(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)


def backup(database_url: str, target: Path) -> None:
    partial = target.with_name(f".{target.name}.partial")
    partial.unlink(missing_ok=True)
    try:
        with _connect(_path(database_url)) as src, _connect(partial) as dst:
            src.backup(dst, pages=PAGES_PER_STEP)
            # one file, readable on its own: no -wal beside it
            dst.execute("PRAGMA journal_mode=DELETE")
        dst.close()
        src.close()
        os.chmod(partial, 0o600)  # the ledger, the contacts and the token key: the owner's only
        partial.replace(target)
    except sqlite3.Error as exc:
        partial.unlink(missing_ok=True)
        raise BackupFailed(f"SQLite could not copy the database ({exc.sqlite_errorname})") from exc


def revision_of(source: Path) -> str:
    with source.open("rb") as f:
        if f.read(len(HEADER)) != HEADER:
            raise BackupFailed(f"{source} is not a SQLite backup (a PostgreSQL backup restores only into PostgreSQL)")
    try:
        conn = _read_only(source)
        try:
            row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise BackupFailed(f"{source} is not a bulkmail database ({exc.sqlite_errorname})") from exc
    if row is None:
        raise BackupFailed(f"{source} is not a bulkmail database (it has no schema revision)")
    return str(row[0])


def restore(database_url: str, source: Path) -> None:
    """Copy SOURCE over the configured database, through SQLite (so a process that has it open sees the
    restored state, never a half-written file)."""
    try:
        with _read_only(source) as src, _connect(_path(database_url)) as dst:
            src.backup(dst, pages=PAGES_PER_STEP)
            dst.execute("PRAGMA journal_mode=WAL")  # as bulkmail runs it
        src.close()
        dst.close()
    except sqlite3.Error as exc:
        raise BackupFailed(f"SQLite could not restore the database ({exc.sqlite_errorname})") from exc

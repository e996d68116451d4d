"""PostgreSQL: `pg_dump -Fc` (a consistent snapshot while the workers write) and `pg_restore` of the configured
database. The connection is handed to them in the environment (PGHOST, PGPASSWORD, ...), so the password is
never on a command line that `ps` shows."""

import os
import re
import shutil
import subprocess
from pathlib import Path

from sqlalchemy import make_url

from app.backups.errors import BackupFailed

HEADER = b"PGDMP"
TIMEOUT_SECONDS = 6 * 3600  # a dump of a large ledger takes a while; a hung server must not hang the command
_VERSION_MISMATCH = re.compile(r"server version: ([\d.]+).*?pg_dump version: ([\d.]+)", re.DOTALL)
QUERY_ENV = {"sslmode": "PGSSLMODE", "sslrootcert": "PGSSLROOTCERT", "sslcert": "PGSSLCERT", "sslkey": "PGSSLKEY"}
_ARCHIVE_VERSION = re.compile(r"unsupported version \(([\d.]+)\) in file header")


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupFailed(
            f"{name} was not found: install PostgreSQL's client programs of the server's major version or newer "
            "(Debian: apt install postgresql-client)"
        )
    return found


def _environment(database_url: str) -> dict[str, str]:
    url = make_url(database_url)
    env = {**os.environ}
    for name, value in (("PGHOST", url.host), ("PGPORT", url.port), ("PGUSER", url.username),
                        ("PGPASSWORD", url.password), ("PGDATABASE", url.database)):  # fmt: skip
        if value is not None:
            env[name] = str(value)
    for key, given in url.query.items():  # sslmode=require and the like
        if key in QUERY_ENV:
            env[QUERY_ENV[key]] = str(given)
    return env


def _run(args: list[str], env: dict[str, str], what: str) -> subprocess.CompletedProcess[str]:
    try:
        done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired as exc:
        raise BackupFailed(f"{what} did not finish within {TIMEOUT_SECONDS // 3600} hours") from exc
    if done.returncode != 0:
        raise BackupFailed(_explain(done.stderr, what))
    return done


def _explain(stderr: str, what: str) -> str:
    mismatch = _VERSION_MISMATCH.search(stderr)
    if mismatch:
        server, tool = mismatch.groups()
        return (
            f"pg_dump {tool} cannot dump a PostgreSQL {server} server: install the client programs of version "
            f"{server.split('.')[0]} or newer (Debian: postgresql-client-{server.split('.')[0]})"
        )
    archive = _ARCHIVE_VERSION.search(stderr)
    if archive:
        return (
            f"this pg_restore is older than the pg_dump that wrote the backup (archive format {archive.group(1)}): "
            "install the client programs of the version that made it, or newer"
        )
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith(f"{what}: error:")]
    said = (errors or lines or ["no reason given"])[0].removeprefix(f"{what}: error: ")
    return f"{what} failed: {said}"


def backup(database_url: str, target: Path) -> None:
    partial = target.with_name(f".{target.name}.partial")
    partial.unlink(missing_ok=True)
    try:
        _run([_tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges", f"--file={partial}"],
             _environment(database_url), "pg_dump")  # fmt: skip
        os.chmod(partial, 0o600)
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)


def revision_of(source: Path) -> str:
    with source.open("rb") as f:
        if f.read(len(HEADER)) != HEADER:
            raise BackupFailed(
                f"{source} is not a PostgreSQL backup (pg_dump -Fc; a SQLite backup restores only into SQLite)"
            )
    listed = _run([_tool("pg_restore"), "--data-only", "--table=alembic_version", "--file=-", str(source)],
                  {**os.environ}, "pg_restore")  # fmt: skip
    # the COPY block's one data row, after the COPY line and before its \.
    copy = re.search(r"^COPY [^\n]*alembic_version[^\n]*FROM stdin;\n(\w+)\n", listed.stdout, re.MULTILINE)
    if copy is None:
        raise BackupFailed(f"{source} is not a bulkmail database (it has no schema revision)")
    return copy.group(1)


def restore(database_url: str, source: Path) -> None:
    """All or nothing. The caller dropped bulkmail's tables; --clean drops what else the backup makes (the
    functions of the append-only triggers) before making it again."""
    _run([_tool("pg_restore"), "--no-owner", "--no-privileges", "--single-transaction", "--exit-on-error",
          "--clean", "--if-exists",
          f"--dbname={make_url(database_url).database}", str(source)], _environment(database_url), "pg_restore")  # fmt: skip

"""The `bulkmail` command: one entry point for the service, the worker and operator tasks."""

import logging
import os
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from app import __version__
from app.audience import cli as audience_cli
from app.bounces import cli as bounces_cli
from app.i18n import cli as i18n_cli
from app.paths import old_default_database
from app.sending import cli as sending_cli
from app.settings import Settings, get_settings

if TYPE_CHECKING:
    from sqlalchemy import Engine

# Every command and sub-command imports what it needs in its body: `bulkmail --help` and a quick command like
# `bulkmail lists` would otherwise wait for the web service, Alembic and every model to load.


def where(settings: Settings) -> str:
    """The database in use (a password in its URL hidden) and the data directory."""
    from sqlalchemy import make_url

    database = make_url(settings.database_url).render_as_string(hide_password=True)
    return f"database {database} (data directory {settings.data_dir}, BULKMAIL_DATA_DIR)"


def old_database_notice(settings: Settings) -> str | None:
    old = old_default_database(settings.database_url, settings.data_dir)
    if old is None:
        return None
    new = settings.data_dir / "bulkmail.db"
    return (
        f"note: {old} is a database of an older bulkmail, which kept it in the working directory; it is "
        f"not used. The database is now {new}. To keep that data, stop bulkmail and, if {new} does not "
        "exist yet, move it there "
        f"(mv {old} {new}, with its -wal and -shm files if present), or point "
        f"BULKMAIL_DATABASE_URL=sqlite:///{old} at it."
    )


def _help() -> str:
    text = (
        "bulkmail: bulk e-mail with a per-recipient ledger and bounce monitoring. "
        "Configuration comes from BULKMAIL_* environment variables or a .env file."
    )
    try:
        return f"{text}\n\nUses the {where(Settings())}."
    except Exception:  # a bad variable: the command that reads it names the problem
        return text


cli = typer.Typer(help=_help(), no_args_is_help=True, add_completion=False)
db_cli = typer.Typer(help="Database schema commands.", no_args_is_help=True)
cli.add_typer(db_cli, name="db")
apikey_cli = typer.Typer(help="API keys for the JSON API (a CMS integration).", no_args_is_help=True)
cli.add_typer(apikey_cli, name="apikey")


def _logging() -> None:
    from app.logs import configure

    configure(get_settings(), level=logging.INFO)


@cli.callback()
def _every_command() -> None:
    try:
        settings = get_settings()
        notice = old_database_notice(settings)
    except Exception:  # a bad variable: the command that reads it names the problem
        return
    from app.logs import configure

    # warnings and errors only (serve and worker say more): a command that sends or sweeps logs like the service
    configure(settings, level=logging.WARNING)
    if notice:
        typer.echo(notice, err=True)


def _upgraded_engine() -> "Engine":
    from app.db import get_engine
    from app.migrate import upgrade

    engine = get_engine(get_settings())
    upgrade(engine)
    return engine


@cli.command()
def version() -> None:
    """Print the version."""
    typer.echo(__version__)


@db_cli.command("upgrade")
def db_upgrade() -> None:
    """Bring the database schema up to date (safe to run any number of times)."""
    from app.cli_audit import audited
    from app.db import get_engine
    from app.migrate import current

    before = current(get_engine(get_settings()))
    engine = _upgraded_engine()
    after = current(engine)
    if after != before:  # a repeated upgrade changes nothing: not an action
        audited(engine, "db upgrade", "db.upgrade", detail={"from": before, "to": after})
    typer.echo(f"database at revision {after} ({engine.dialect.name})")


@db_cli.command("wait")
def db_wait(timeout: float = typer.Option(60.0, help="Seconds to wait before giving up.")) -> None:
    """Wait until the database answers (a container starting beside PostgreSQL); exit 1 if it does not in time."""
    from sqlalchemy.exc import SQLAlchemyError

    from app.db import get_engine, ping

    settings = get_settings()
    engine = get_engine(settings)
    deadline = time.monotonic() + timeout
    while True:
        try:
            ping(engine)
            break
        except SQLAlchemyError as exc:
            if time.monotonic() >= deadline:
                typer.echo(
                    f"error: the {where(settings)} did not answer within {timeout:g} s ({type(exc).__name__})", err=True
                )
                raise typer.Exit(1) from None
            time.sleep(1.0)
    typer.echo(f"{engine.dialect.name} answers")


@cli.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
) -> None:
    """Run the whole system: the API and web pages, plus a background process with the sending worker
    and the scheduler (at a lower CPU priority, so sending never slows the pages).

    Upgrades the database first. On SQLite this is the complete deployment."""
    import uvicorn

    from app.main import create_app
    from app.runtime import BackgroundProcess

    _logging()
    engine = _upgraded_engine()
    settings = get_settings()
    typer.echo(f"bulkmail {__version__}: {where(settings)}")
    setup_token = _first_run_link(engine, host, port)
    background = BackgroundProcess() if settings.embedded_worker or settings.scheduler else None
    # uvicorn shuts down gracefully on these, then re-raises them with the handlers found at start:
    # ending with SystemExit lets the background process be stopped below.
    for stop_signal in (signal.SIGINT, signal.SIGTERM):
        signal.signal(stop_signal, lambda *_: sys.exit(0))
    if background:
        background.start()
    try:
        web_only = settings.model_copy(update={"embedded_worker": False, "scheduler": False})
        app = create_app(web_only)
        app.state.setup_token = setup_token
        uvicorn.run(app, host=host, port=port, log_level="info", log_config=None)  # the lines _logging() set up
    finally:
        if background:
            background.stop()


def _first_run_link(engine: "Engine", host: str, port: int) -> str | None:
    """With no user yet: a one-time token for the first-run page, printed with how to use it."""
    import secrets
    import socket

    from app.logs import keep_out
    from app.users import users_exist

    if users_exist(engine):
        return None
    token = secrets.token_urlsafe(24)
    keep_out(token)  # the access log would show it in /setup?token=...

    def url(name: str) -> str:
        return f"http://{f'[{name}]' if ':' in name else name}:{port}/setup"

    everywhere = host in ("0.0.0.0", "::", "")
    here, there = ("127.0.0.1", socket.gethostname()) if everywhere else (host, host)
    typer.echo(
        f"No user yet: create the administrator at {url(here)} from this machine, or from another one "
        f"with {url(there)}?token={token} (works once, until bulkmail stops). "
        "Or run: bulkmail user create --email you@example.com"
    )
    return token


@cli.command()
def worker(
    parent: int = typer.Option(
        0, hidden=True, help="`bulkmail serve`'s pid: take the settings as they are, exit with it."
    ),
) -> None:
    """Run a sending worker and the scheduler without HTTP (scale-out on PostgreSQL: run many, anywhere)."""
    from app.runtime import BackgroundServices

    _logging()
    settings = get_settings()
    if not parent:
        settings = settings.model_copy(update={"embedded_worker": True})
    if settings.background_nice:
        os.nice(settings.background_nice)
    services = BackgroundServices(settings, _upgraded_engine())
    signal.signal(signal.SIGTERM, lambda *_: services.stop())
    services.start()
    try:
        while not services.wait(timeout=1.0):
            if parent and os.getppid() != parent:
                break
    except KeyboardInterrupt:
        pass
    finally:
        services.stop()


@cli.command()
def backup(file: Path = typer.Argument(..., help="Where to write the backup (replaced when it exists).")) -> None:
    """Back up the whole database while bulkmail runs (SQLite: its online backup API; PostgreSQL: pg_dump -Fc).

    Keep the seal key (BULKMAIL_SEAL_KEY or DATA_DIR/seal.key) too, apart from the backup: the DKIM keys,
    relay passwords and two-factor seeds in it are sealed with that key."""
    from app.backups import BackupFailed
    from app.backups import backup as back_up
    from app.cli_audit import audited

    engine = _upgraded_engine()
    try:
        made = back_up(get_settings(), engine, file)
    except BackupFailed as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    audited(engine, "backup", "db.backup", detail={"file": made.path.name, "bytes": made.size})
    typer.echo(f"backed up {engine.dialect.name} (revision {made.revision}) to {made.path}: {made.size} bytes")


@cli.command()
def restore(
    file: Path = typer.Argument(..., help="A file `bulkmail backup` wrote."),
    force: bool = typer.Option(False, "--force", help="Replace everything a database that is not empty holds."),
) -> None:
    """Restore a backup into the configured database (empty, unless --force), then bring its schema up to
    date. Stop `bulkmail serve` and every worker first."""
    from app.backups import BackupFailed
    from app.backups import restore as put_back
    from app.cli_audit import audited
    from app.db import get_engine

    engine = get_engine(get_settings())
    try:
        done = put_back(get_settings(), engine, file, force=force)
    except BackupFailed as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    detail = {"file": file.name, "from": done.from_revision, "to": done.to_revision, "replaced": done.replaced}
    audited(engine, "restore", "db.restore", detail=detail)
    typer.echo(f"restored {file} into {where(get_settings())}; schema at revision {done.to_revision}")


@apikey_cli.command("create")
def apikey_create(
    name: str = typer.Option(..., help="Who uses the key, e.g. CMS."),
    scope: str = typer.Option("read", help="read (GET only) or write (everything)."),
) -> None:
    """Create a key and print it once; only its hash is kept."""
    from sqlmodel import Session

    from app.apikeys import create_api_key
    from app.cli_audit import audited

    if scope not in ("read", "write"):
        raise typer.BadParameter("scope must be read or write", param_hint="--scope")
    engine = _upgraded_engine()
    with Session(engine) as session:
        row, plaintext = create_api_key(session, name, scope)  # type: ignore[arg-type]  # scope is one of the Scope literals: checked above
        session.commit()
        key_id = row.id
    # after the session ends: on SQLite its read of the new row would keep the audit log's write waiting
    audited(engine, "apikey create", "settings.api_keys.create", "api_key", key_id, {"scope": scope})
    typer.echo(f"key {key_id} ({scope}) for {name}: {plaintext}")
    typer.echo("Store it now: it cannot be shown again.", err=True)


@apikey_cli.command("list")
def apikey_list() -> None:
    """List keys with their scope and last use (never the keys themselves)."""
    from sqlmodel import Session, col, select

    from app.models import ApiKey

    with Session(_upgraded_engine()) as session:
        for k in session.exec(select(ApiKey).order_by(col(ApiKey.id))):
            state = f"revoked {k.revoked_at:%Y-%m-%d}" if k.revoked_at else "active"
            used = f"{k.last_used_at:%Y-%m-%d %H:%M}" if k.last_used_at else "never"
            typer.echo(f"{k.id}\t{k.prefix}…\t{k.scope}\t{k.name}\tlast used {used}\t{state}")


@apikey_cli.command("revoke")
def apikey_revoke(key_id: int) -> None:
    """Revoke a key by its id; requests with it get 401 from then on."""
    from sqlmodel import Session

    from app.apikeys import revoke_api_key
    from app.cli_audit import audited

    engine = _upgraded_engine()
    with Session(engine) as session:
        if revoke_api_key(session, key_id) is None:
            raise typer.BadParameter(f"no API key with id {key_id}", param_hint="KEY_ID")
        session.commit()
    audited(engine, "apikey revoke", "settings.api_keys.revoke", "api_key", key_id)
    typer.echo(f"key {key_id} revoked")


def _users(cli: typer.Typer) -> None:
    users = typer.Typer(help="Users of the web pages.", no_args_is_help=True)
    cli.add_typer(users, name="user")

    @users.command("create")
    def create(
        email: str = typer.Option(..., help="The e-mail address the user signs in with."),
        role: str = typer.Option("admin", help="admin, marketer or viewer."),
        password: str = typer.Option(
            ...,
            prompt=True,
            hide_input=True,
            confirmation_prompt=True,
            envvar="BULKMAIL_NEW_USER_PASSWORD",
            help="Asked for when not given (or read from BULKMAIL_NEW_USER_PASSWORD).",
        ),
    ) -> None:
        """Create a user who can sign in to the web pages."""
        from sqlmodel import Session

        from app.cli_audit import audited
        from app.users import UserInvalid, create_user

        engine = _upgraded_engine()
        with Session(engine) as session:
            try:
                user = create_user(session, email, password, role=role)  # type: ignore[arg-type]  # create_user checks it
            except UserInvalid as exc:
                raise typer.BadParameter(exc.detail, param_hint=f"--{exc.field}") from None
            session.commit()
            made = f"user {user.id} created: {user.email} ({user.role})"
            user_id, detail = user.id, {"email": user.email, "role": user.role}
        audited(engine, "user create", "users.create", "user", user_id, detail)
        typer.echo(made)


# time.perf_counter() at the process's start when it runs as the `bulkmail` command (not inside a test's runner)
process_started: float | None = None


def _process_age() -> float:
    """Seconds since this process started (Linux, from /proc; elsewhere 0)."""
    try:
        start_ticks = int(Path("/proc/self/stat").read_text().rpartition(")")[2].split()[19])
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        return max(uptime - start_ticks / os.sysconf("SC_CLK_TCK"), 0.0)
    except (OSError, ValueError, IndexError):
        return 0.0


def main() -> None:
    global process_started
    process_started = time.perf_counter() - _process_age()
    cli()


audience_cli.register(cli)
sending_cli.register(cli)
bounces_cli.register(cli)
_users(cli)
i18n_cli.register(cli)

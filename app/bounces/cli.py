"""`bulkmail` subcommands for bounces: `sweep` and `mailbox test`."""

from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from sqlalchemy import Engine

mailbox_cli = typer.Typer(help="The noreply mailbox the bounce sweep reads.", no_args_is_help=True)


def _engine() -> "Engine":
    from app.db import get_engine
    from app.migrate import upgrade
    from app.settings import get_settings

    engine = get_engine(get_settings())
    upgrade(engine)
    return engine


def sweep() -> None:
    """Sweep the bounce mailbox now: record bounces, complaints, auto-replies and unsubscribe mails,
    apply the suppression policy, and delete only what was recorded."""
    from app.bounces.sweep import run_sweep
    from app.cli_audit import audited
    from app.settings import get_settings

    engine = _engine()
    result = run_sweep(get_settings(), engine, trigger="cli")
    if result is None:
        typer.echo("another sweep is running; nothing done", err=True)
        raise typer.Exit(3)
    audited(engine, "sweep", "bounces.sweep", "sweep", result.id, {"state": result.state, "recorded": result.recorded})
    typer.echo(
        f"sweep {result.id} {result.state}: seen {result.seen}, recorded {result.recorded}, "
        f"deleted {result.deleted}, kept {result.kept}, errors {result.errors}"
    )
    if result.per_kind:
        typer.echo("  kinds:  " + ", ".join(f"{k} {v}" for k, v in sorted(result.per_kind.items())))
    if result.per_layer:
        typer.echo("  layers: " + ", ".join(f"{k} {v}" for k, v in sorted(result.per_layer.items())))
    if result.error:
        typer.echo(f"  error: {result.error}", err=True)
        raise typer.Exit(1)


@mailbox_cli.command("test")
def mailbox_test() -> None:
    """Connect, log in and open the folder (the settings page's values over BULKMAIL_MAILBOX_*); name the problem."""
    from app.bounces.mailbox import MailboxError, check_mailbox
    from app.config_store import live_settings
    from app.settings import get_settings

    try:
        typer.echo(check_mailbox(live_settings(get_settings(), _engine())))
    except MailboxError as exc:
        typer.echo(f"mailbox test failed: {exc}", err=True)
        raise typer.Exit(1) from None


def register(cli: typer.Typer) -> None:
    """Add this part's commands to the `bulkmail` command."""
    cli.command("sweep")(sweep)
    cli.add_typer(mailbox_cli, name="mailbox")

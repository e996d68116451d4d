"""`bulkmail` subcommands for bounces."""

import typer


def register(cli: typer.Typer) -> None:
    """Add this part's commands to the `bulkmail` command."""

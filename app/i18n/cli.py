"""`bulkmail i18n update` / `bulkmail i18n check`: the message catalogue."""

import typer

from app.i18n import DEFAULT, LANGUAGES


def register(cli: typer.Typer) -> None:
    i18n = typer.Typer(help="The message catalogue of the pages (English and its translations).", no_args_is_help=True)
    cli.add_typer(i18n, name="i18n")
    translated = [language for language in LANGUAGES if language != DEFAULT]

    @i18n.command("update")
    def update_command() -> None:
        """Extract the marked text of app/ and templates/ into locale/messages.pot and merge it into every
        translation's .po (new text comes in untranslated; translate it, then run `bulkmail i18n check`)."""
        from app.i18n.extract import TEMPLATE, update

        update(translated)
        typer.echo(f"{TEMPLATE} written; merged into {', '.join(translated)}")

    @i18n.command("check")
    def check_command() -> None:
        """List the text that has no translation yet (or whose placeholders differ); fails if there is any."""
        from app.i18n.extract import problems

        count = 0
        for language in translated:
            for problem in problems(language):
                count += 1
                typer.echo(f"{language}: {problem.where}: {problem.what}: {problem.msgid!r}")
        if count:
            raise typer.Exit(1)
        typer.echo(f"every message is translated ({', '.join(translated)})")

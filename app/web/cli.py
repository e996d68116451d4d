"""`bulkmail user create`: web users (the first admin is made this way)."""

import typer

from app.db import get_engine
from app.migrate import upgrade
from app.settings import get_settings


def register(cli: typer.Typer) -> None:
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

        from app.users import UserInvalid, create_user

        engine = get_engine(get_settings())
        upgrade(engine)
        with Session(engine) as session:
            try:
                user = create_user(session, email, password, role=role)  # type: ignore[arg-type]  # create_user checks it
            except UserInvalid as exc:
                raise typer.BadParameter(exc.detail, param_hint=f"--{exc.field}") from None
            session.commit()
            typer.echo(f"user {user.id} created: {user.email} ({user.role})")

"""The audit log's entries for the `bulkmail` command: each command that changes something calls `audited`
once, after it succeeded, with what it did in the words the web pages' entries use (`lists.import` on list 7),
so the audit page reads the same whichever way a change was made.

The actor is the operating-system user who ran the command on this machine, `cli:USER@HOST` (the machines
sharing a PostgreSQL database tell themselves apart by the host); the route is the command as typed, without
its arguments (`bulkmail apikey create`), so nothing typed on the command line (a password, a key) lands there."""

import getpass
import os
import socket
from typing import Any

import typer
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from app.users.audit import Actor, record

ACTOR_KIND = "cli"


def cli_actor() -> Actor:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no login name and no passwd entry (a container): the uid says who
        user = f"uid{os.getuid()}"
    return Actor(ACTOR_KIND, None, f"{ACTOR_KIND}:{user}@{socket.gethostname()}")


def audited(
    engine: Engine,
    command: str,
    action: str,
    object_type: str | None = None,
    object_id: int | str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Record one change the running command (`apikey create`) made. The change is done and committed: a failure to record
    it is reported and does not fail the command (as on the pages, where the answer still goes out)."""
    try:
        record(engine, cli_actor(), action, f"bulkmail {command}", object_type,
               None if object_id is None else str(object_id), 0, detail)  # fmt: skip
    except SQLAlchemyError as exc:
        typer.echo(f"warning: the audit log could not record {action} ({type(exc).__name__})", err=True)

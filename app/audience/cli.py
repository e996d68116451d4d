"""`bulkmail` subcommands for the audience: import, lists, audience, why.

Each command imports the models and services in its body, so the `bulkmail` command starts without them."""

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlmodel import Session

    from app.audience.segments.audience import Audience
    from app.models import ImportJob, MailingList

FORMAT_HELP = "auto (by name and content), csv (incl. Outlook/Google/Dynamics exports), vcard or text"


def _engine() -> "Engine":
    from app.db import get_engine
    from app.migrate import upgrade
    from app.settings import get_settings

    engine = get_engine(get_settings())
    upgrade(engine)
    return engine


def _lists_by_name(session: "Session", names: list[str]) -> list["MailingList"]:
    from sqlalchemy import select
    from sqlmodel import col

    from app.models import MailingList

    found = {m.name: m for m in session.execute(select(MailingList).where(col(MailingList.name).in_(names))).scalars()}
    missing = [n for n in names if n not in found]
    if missing:
        raise typer.BadParameter(f"no list named {', '.join(repr(n) for n in missing)}", param_hint="--list")
    return [found[n] for n in names]


def _report(job: "ImportJob") -> str:
    return (
        f"rows read {job.rows_read}, added {job.added}, updated {job.updated}, "
        f"duplicates in file {job.duplicates}, invalid {job.invalid}, already suppressed {job.suppressed}"
    )


def _throughput(rows: int, seconds: float) -> str:
    """The command's time, to the report written: what the user waited for."""
    return f"{rows:,} rows in {seconds:.1f} s ({rows / max(seconds, 1e-9):,.0f} rows/s)"


def import_command(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True, help="The file to import."),
    list_name: str = typer.Option(..., "--list", help="List to import into (created if it does not exist)."),
    format: str = typer.Option("auto", "--format", help=FORMAT_HELP),
    email_column: list[str] = typer.Option(None, "--email-column", help="Address column (name or 1-based number)."),
    also_email_column: list[str] = typer.Option(
        None,
        "--also-email-column",
        help='Also import this address column as separate contacts (e.g. "E-mail 2 Address").',
    ),
    first_name_column: str | None = typer.Option(None, "--first-name-column"),
    last_name_column: str | None = typer.Option(None, "--last-name-column"),
    header: bool | None = typer.Option(None, "--header/--no-header", help="Default: detected."),
    rejects: Path | None = typer.Option(None, "--rejects", help="Write every rejected row to this CSV file."),
) -> None:
    """Import contacts from a CSV, vCard or text file into a list, with a report at the end."""
    from app import cli as command

    # run as the `bulkmail` command, the user waited from the process's start on (its imports too)
    started = command.process_started or time.perf_counter()
    from sqlalchemy import select
    from sqlmodel import Session, col

    from app.audience.export import csv_lines
    from app.audience.importer import INDEX_NOW_BYTES, import_file
    from app.audience.jobs import INDEX_EVERY_MINUTES
    from app.audience.sources.detect import FORMATS
    from app.cli_audit import audited
    from app.models import ImportJob, ImportReject, MailingList
    from app.settings import get_settings

    if format not in FORMATS:
        raise typer.BadParameter(f"use one of {', '.join(FORMATS)}", param_hint="--format")
    mapping: dict[str, Any] = {}
    if email_column:
        mapping["email"] = email_column
    if also_email_column:
        mapping["also_email"] = also_email_column
    if first_name_column:
        mapping["first_name"] = first_name_column
    if last_name_column:
        mapping["last_name"] = last_name_column
    if header is not None:
        mapping["header"] = header
    engine = _engine()
    with Session(engine, expire_on_commit=False) as session:
        ml = session.execute(select(MailingList).where(col(MailingList.name) == list_name)).scalars().first()
        if ml is None:
            ml = MailingList(name=list_name)
            session.add(ml)
            session.commit()
            audited(engine, "import", "lists.create", "list", ml.id)
            typer.echo(f'created list "{list_name}"')
    size = file.stat().st_size
    with typer.progressbar(length=max(size, 1), label=f"importing {file.name}", show_eta=True) as bar:
        done = [0]

        def progress(job: ImportJob) -> None:
            bar.update(max(job.bytes_read - done[0], 0))
            done[0] = max(done[0], job.bytes_read)

        assert ml.id is not None  # stored above
        job = import_file(engine, get_settings(), ml.id, str(file), format, mapping, progress)
    # a failed import may have stored part of the file (each batch commits): recorded either way
    audited(engine, "import", "lists.import", "list", ml.id, {"import": job.id, "file": file.name, "state": job.state})
    typer.echo(f"import {job.id} ({job.format}) {job.state}: {_report(job)}")
    if job.size_bytes > INDEX_NOW_BYTES:
        # indexing a big file's contacts for search takes minutes: the service does it in the background
        typer.echo(f"the contacts page finds the new contacts by search within {INDEX_EVERY_MINUTES} minutes")
    with Session(engine) as session:
        query = select(ImportReject).where(col(ImportReject.import_id) == job.id).order_by(col(ImportReject.id))
        for r in session.execute(query.limit(20)).scalars():
            where = f"line {r.line}" + (f", column {r.column}" if r.column else "")
            typer.echo(f"  {where}: {r.reason}")
        if job.invalid > 20:
            typer.echo(f"  ... and {job.invalid - 20} more" + ("" if rejects else " (use --rejects FILE for all)"))
        if rejects:
            rows = ((file.name, r.line, r.column, r.value, r.reason) for r in session.execute(query).scalars())
            with open(rejects, "w", encoding="utf-8", newline="") as out:
                out.writelines(csv_lines(["file", "line", "column", "value", "reason"], rows))
            typer.echo(f"rejected rows written to {rejects}")
    engine.dispose()  # SQLite checkpoints its log when the last connection closes: part of the wait
    typer.echo(_throughput(job.rows_read, time.perf_counter() - started))
    if job.state == "failed":
        typer.echo(f"error: {job.error}", err=True)
        raise typer.Exit(1)


def lists_command() -> None:
    """Show the lists with their member counts."""
    from sqlalchemy import func, select
    from sqlmodel import Session, col

    from app.models import ListMember, MailingList

    with Session(_engine()) as session:
        counts: dict[int, int] = dict(
            session.execute(select(col(ListMember.list_id), func.count()).group_by(col(ListMember.list_id)))
            .tuples()
            .all()
        )
        rows = session.execute(select(MailingList).order_by(col(MailingList.name))).scalars().all()
    if not rows:
        typer.echo("no lists yet: bulkmail import FILE --list NAME creates one")
    for m in rows:
        typer.echo(f"{m.id:>5}  {m.name:<40} {counts.get(m.id, 0):>10} members")


def _audience(
    session: "Session",
    lists: list[str] | None,
    segments: list[str] | None,
    exclude_lists: list[str] | None,
    exclude_segments: list[str] | None,
    all_lists: bool,
) -> "Audience":
    """The send the options name (by names); no list and no segment: every list when ALL_LISTS."""
    from sqlalchemy import select
    from sqlmodel import col

    from app.audience.segments.audience import Audience
    from app.audience.segments.store import UnknownSegment, by_names
    from app.models import MailingList

    def list_ids(names: list[str] | None) -> list[int]:
        return [m.id for m in _lists_by_name(session, names or []) if m.id is not None] if names else []

    def segment_ids(names: list[str] | None, option: str) -> list[int]:
        try:
            return [s.id for s in by_names(session, names) if s.id is not None] if names else []
        except UnknownSegment as exc:
            raise typer.BadParameter(str(exc), param_hint=option) from None

    ids, seg_ids = list_ids(lists), segment_ids(segments, "--segment")
    if not ids and not seg_ids:
        if not all_lists:
            raise typer.BadParameter("name a --list or a --segment", param_hint="--list")
        ids = list(session.execute(select(col(MailingList.id))).scalars())
    return Audience(ids, seg_ids, list_ids(exclude_lists), segment_ids(exclude_segments, "--exclude-segment"))


LIST_OPTION = typer.Option(None, "--list", help="A list of the send (repeat for several).")
SEGMENT_OPTION = typer.Option(None, "--segment", help="A segment of the send, by name (repeat for several).")
EXCLUDE_LIST_OPTION = typer.Option(None, "--exclude-list", help="Leave out this list's members (repeatable).")
EXCLUDE_SEGMENT_OPTION = typer.Option(None, "--exclude-segment", help="Leave out this segment (repeatable).")


def audience_command(
    list_names: list[str] = LIST_OPTION,
    segment_names: list[str] = SEGMENT_OPTION,
    exclude_lists: list[str] = EXCLUDE_LIST_OPTION,
    exclude_segments: list[str] = EXCLUDE_SEGMENT_OPTION,
    as_json: bool = typer.Option(False, "--json", help="Print the counts as JSON."),
) -> None:
    """Compile the audience of these lists and segments: per-list and per-segment counts, duplicates,
    exclusions per reason, included."""
    from sqlmodel import Session

    from app.audience.reasons import reason_label
    from app.audience.segments.audience import compile_send
    from app.audience.segments.store import SegmentProblem
    from app.config_store import live_settings
    from app.i18n import gettext as _
    from app.models import utcnow
    from app.settings import get_settings

    engine = _engine()
    settings = live_settings(get_settings(), engine)  # the bounce policy saved on the settings page
    with Session(engine) as session:
        audience = _audience(session, list_names, segment_names, exclude_lists, exclude_segments, False)
        try:
            counts = compile_send(session, audience, settings, utcnow()).counts
        except SegmentProblem as exc:
            raise typer.BadParameter(exc.message, param_hint="--segment") from None
    if as_json:
        typer.echo(json.dumps(counts, indent=2))
        return
    left = counts["unsubscribed_by_list"]
    for name, n in counts["sources"].items():
        typer.echo(f"  list {name}: {n}" + (_(", %(n)d unsubscribed from it", n=left[name]) if left.get(name) else ""))
    for name, n in counts.get("segments", {}).items():
        typer.echo(f"  segment {name}: {n}")
    typer.echo(f"candidates      {counts['candidates']:>10}")
    typer.echo(f"- duplicates    {counts['duplicates']:>10}")
    for reason, n in counts["excluded"].items():
        typer.echo(f"- {reason_label(reason):<28} {n:>10}")
    for kind in ("list", "segment"):
        for name, n in counts.get(f"excluded_by_{kind}", {}).items():
            typer.echo(f"    {kind} {name:<23} {n:>10}")
    typer.echo(f"= included      {counts['included']:>10}")


def why_command(
    address: str = typer.Argument(..., help="The address to explain."),
    list_names: list[str] = typer.Option(None, "--list", help="The send's lists (default: all lists)."),
    segment_names: list[str] = SEGMENT_OPTION,
    exclude_lists: list[str] = EXCLUDE_LIST_OPTION,
    exclude_segments: list[str] = EXCLUDE_SEGMENT_OPTION,
) -> None:
    """Explain why an address is in or out of a send."""
    from sqlmodel import Session

    from app.audience.segments.explain import why_in
    from app.audience.segments.store import SegmentProblem
    from app.config_store import live_settings
    from app.models import utcnow
    from app.settings import get_settings

    engine = _engine()
    settings = live_settings(get_settings(), engine)
    with Session(engine) as session:
        audience = _audience(session, list_names, segment_names, exclude_lists, exclude_segments, True)
        try:
            verdict = why_in(session, address, audience, settings, utcnow())
        except SegmentProblem as exc:
            raise typer.BadParameter(exc.message, param_hint="--segment") from None
    typer.echo(verdict.detail)


def register(cli: typer.Typer) -> None:
    """Add this part's commands to the `bulkmail` command."""
    cli.command("import")(import_command)
    cli.command("lists")(lists_command)
    cli.command("audience")(audience_command)
    cli.command("why")(why_command)

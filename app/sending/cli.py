"""`bulkmail relay test`, `bulkmail campaign send` and `bulkmail campaign status`.

Each command imports the models and services in its body, so the `bulkmail` command starts without them."""

import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from sqlalchemy import Engine

relay_cli = typer.Typer(help="The SMTP relay.", no_args_is_help=True)
campaign_cli = typer.Typer(help="Campaigns.", no_args_is_help=True)


@relay_cli.command("test")
def relay_test(
    to: str = typer.Option("relay-test@example.com", help="Recipient to try RCPT TO with (nothing is sent)."),
    sender: str | None = typer.Option(None, "--from", help="Envelope sender to try (default: the bounce address)."),
) -> None:
    """Connect, authenticate and try a sender and recipient, then say what is wrong, if anything."""
    from app.config_store import live_settings
    from app.db import get_engine
    from app.migrate import upgrade
    from app.sending.relay import test_connection
    from app.settings import get_settings

    engine = get_engine(get_settings())
    upgrade(engine)
    settings = live_settings(get_settings(), engine)  # the relay saved on the settings page
    check = test_connection(settings, sender or settings.bounce_address, to)
    typer.echo(("ok: " if check.ok else f"FAILED ({check.kind}): ") + check.message)
    raise typer.Exit(0 if check.ok else 1)


def _read(path: Path | None, what: str) -> str:
    if path is None:
        return ""
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise typer.BadParameter(f"{path}: {exc}", param_hint=what) from exc


@campaign_cli.command("send")
def campaign_send(
    lists: list[str] = typer.Option(..., "--list", help="List name (repeat for several)."),
    subject: str = typer.Option(..., help="Subject (a Jinja2 template)."),
    html: Path | None = typer.Option(None, help="HTML body template file."),
    text: Path | None = typer.Option(None, help="Text body template file."),
    from_address: str | None = typer.Option(None, "--from", help="From address (default: the bounce address)."),
    from_name: str = typer.Option("", help="From display name."),
    reply_to: str | None = typer.Option(None, help="Reply-To address."),
    name: str | None = typer.Option(None, help="Campaign name (default: the subject)."),
    local_worker: bool = typer.Option(
        True, help="Send from this process; --no-local-worker leaves it to running workers."
    ),
) -> None:
    """Create a campaign, launch it and follow it to the end with a progress bar."""
    from sqlalchemy import select
    from sqlmodel import col

    from app.cli_audit import audited
    from app.config_store import live_settings
    from app.db import get_engine, session_scope
    from app.migrate import upgrade
    from app.models import Campaign, MailingList, utcnow
    from app.models.states import CampaignState
    from app.sending import campaigns as service
    from app.sending.render import render_limits
    from app.settings import get_settings

    engine = get_engine(get_settings())
    upgrade(engine)
    settings = live_settings(get_settings(), engine)  # the relay and policy saved on the settings page
    with session_scope(engine) as session:
        ids = []
        for list_name in lists:
            list_id = session.execute(select(col(MailingList.id)).where(col(MailingList.name) == list_name)).scalar()
            if list_id is None:
                raise typer.BadParameter(f"no list named {list_name!r}", param_hint="--list")
            ids.append(list_id)
        campaign = Campaign(
            name=name or subject,
            from_name=from_name,
            from_address=from_address or settings.bounce_address,
            reply_to=reply_to,
            subject=subject,
            html_template=_read(html, "--html"),
            text_template=_read(text, "--text"),
            list_ids=ids,
        )
        try:
            # checked before it is stored (the check renders with no transaction open), then launched
            service.check_campaign(session, campaign, render_limits(settings))
            session.add(campaign)
            session.commit()
            audited(engine, "campaign send", "campaigns.new", "campaign", campaign.id)
            service.launch(session, campaign, settings, utcnow())
        except (service.CampaignInvalid, service.CampaignStateError) as exc:
            session.rollback()
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from exc
        campaign_id = campaign.id
        assert campaign_id is not None  # stored by the commit above
    audited(engine, "campaign send", "campaigns.launch", "campaign", campaign_id)
    typer.echo(f"campaign {campaign_id} launched: {campaign.audience_counts}")
    stop = threading.Event()
    thread = None
    if local_worker:
        from app.sending.worker import run_worker

        thread = threading.Thread(target=run_worker, args=(settings, engine, stop), daemon=True)
        thread.start()
    started = time.monotonic()
    try:
        state = _follow(engine, campaign_id)
    finally:
        stop.set()
        if thread is not None:
            thread.join(timeout=60)
    typer.echo(f"campaign {campaign_id} {state} in {time.monotonic() - started:.1f}s")
    raise typer.Exit(0 if state == CampaignState.COMPLETED else 1)


# the ledger's states as `campaign status` words them, in the order it lists them
STATUS_WORDS = (
    ("queued", "queued"),
    ("waiting", "waiting for the window"),
    ("deferred", "deferred"),
    ("sent", "sent"),
    ("failed", "failed"),
    ("expired", "expired"),
    ("cancelled", "cancelled"),
    ("bounced", "bounced"),
)


@campaign_cli.command("status")
def campaign_status(campaign_id: int = typer.Argument(..., help="The campaign's id.")) -> None:
    """A campaign's state and its ledger's counts: queued, waiting for the window, deferred (for a retry), sent..."""
    from app.db import get_engine, session_scope
    from app.migrate import upgrade
    from app.models import utcnow
    from app.sending import campaigns as service
    from app.settings import get_settings

    engine = get_engine(get_settings())
    upgrade(engine)
    with session_scope(engine) as session:
        try:
            campaign, p = service.status(session, campaign_id, utcnow())
        except LookupError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from exc
        typer.echo(f"campaign {campaign_id} {campaign.name!r}: {campaign.state}")
        typer.echo(f"{p.done} of {p.total} done ({service.percent_done(p.done, p.total, campaign.state)} %)")
        typer.echo(" · ".join(f"{words} {p.counts.get(state, 0)}" for state, words in STATUS_WORDS))
        if campaign.send_window:
            w = campaign.send_window
            typer.echo(f"window: {','.join(w['days'])} {w['start']}-{w['end']} {w['zone']}")
        if campaign.local_time:
            t = campaign.local_time
            typer.echo(f"local time: {t['at']} on the clock of the contact field {t['zone_field']!r} "
                       f"(else {t['default_zone']})")  # fmt: skip


def _follow(engine: "Engine", campaign_id: int) -> str:
    from app.db import session_scope
    from app.models import Campaign, utcnow
    from app.models.states import CampaignState
    from app.sending import ledger

    last_done = 0
    with typer.progressbar(length=1, label="sending") as bar:
        while True:
            with session_scope(engine) as session:
                campaign = session.get(Campaign, campaign_id)
                assert campaign is not None
                p = ledger.progress(session, campaign, utcnow())
            bar.length = max(p.total, 1)
            bar.update(p.done - last_done)
            last_done = p.done
            if campaign.state in (CampaignState.COMPLETED, CampaignState.CANCELLED):
                return campaign.state
            if campaign.state == CampaignState.PAUSED:
                typer.echo(f"\npaused: {campaign.paused_reason}", err=True)
                return CampaignState.PAUSED
            time.sleep(0.5)


def register(cli: typer.Typer) -> None:
    """Add this part's commands to the `bulkmail` command."""
    cli.add_typer(relay_cli, name="relay")
    cli.add_typer(campaign_cli, name="campaign")

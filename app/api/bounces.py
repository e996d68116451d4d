"""/api/v1 routes for bounces: the bounce records and the sweep log, and "sweep now"."""

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status
from sqlmodel import col, select

from app.api.deps import EngineDep, SessionDep, SettingsDep
from app.audience.addresses import email_key
from app.bounces.sweep import run_sweep
from app.models import Bounce, MailboxSweep
from app.models.bounces import BouncePublic, MailboxSweepPublic

router = APIRouter(tags=["bounces"])

Limit = Annotated[int, Query(ge=1, le=1000, description="rows per page")]
Offset = Annotated[int, Query(ge=0)]


@router.get("/bounces", response_model=list[BouncePublic])
def list_bounces(
    session: SessionDep,
    address: Annotated[str | None, Query(description="recipient address (matched by its dedupe key)")] = None,
    campaign: Annotated[int | None, Query(description="campaign id")] = None,
    kind: Annotated[
        str | None, Query(description="bounce | delayed | complaint | autoreply | unsubscribe | delivery")
    ] = None,
    reason: Annotated[str | None, Query(description="reason, e.g. userunknown, mailboxfull")] = None,
    since: Annotated[datetime | None, Query(description="recorded at or after (ISO 8601; UTC if no offset)")] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[Bounce]:
    """Bounce records, newest first."""
    stmt = select(Bounce)
    if address is not None:
        stmt = stmt.where(Bounce.email_key == email_key(address))
    if campaign is not None:
        stmt = stmt.where(Bounce.campaign_id == campaign)
    if kind is not None:
        stmt = stmt.where(Bounce.kind == kind)
    if reason is not None:
        stmt = stmt.where(Bounce.reason == reason)
    if since is not None:
        stmt = stmt.where(Bounce.created_at >= (since if since.tzinfo else since.replace(tzinfo=UTC)))
    stmt = stmt.order_by(col(Bounce.created_at).desc(), col(Bounce.id).desc()).offset(offset).limit(limit)
    return list(session.exec(stmt))


@router.get("/sweeps", response_model=list[MailboxSweepPublic])
def list_sweeps(session: SessionDep, limit: Limit = 50, offset: Offset = 0) -> list[MailboxSweep]:
    """The sweep log, newest first."""
    stmt = select(MailboxSweep).order_by(col(MailboxSweep.id).desc()).offset(offset).limit(limit)
    return list(session.exec(stmt))


@router.post(
    "/sweeps",
    response_model=MailboxSweepPublic,
    status_code=status.HTTP_201_CREATED,
    responses={409: {"description": "another sweep is running"}},
)
def sweep_now(settings: SettingsDep, engine: EngineDep, session: SessionDep) -> MailboxSweep:
    """Sweep the mailbox now and return its log entry (state `failed` with `error` if the mailbox failed)."""
    # end the request's transaction (API-key check) first: on SQLite it holds the write lock the sweep needs
    session.rollback()
    sweep = run_sweep(settings, engine, trigger="api")
    if sweep is None:
        raise HTTPException(status.HTTP_409_CONFLICT, detail="another sweep is running; try again when it ends")
    return sweep

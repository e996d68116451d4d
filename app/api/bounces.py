"""/api/v1 routes for bounces: the bounce records and the sweep log, and "sweep now"."""

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, status
from sqlmodel import col, select

from app.api.deps import EngineDep, SessionDep, SettingsDep
from app.api.pagination import CursorQuery, LimitQuery, Page, after_id, after_time_id, page_of
from app.audience.addresses import email_key
from app.bounces.sweep import run_sweep
from app.models import Bounce, MailboxSweep
from app.models.bounces import BouncePublic, MailboxSweepPublic

router = APIRouter(tags=["bounces"])

BounceKind = Literal["bounce", "delayed", "complaint", "autoreply", "unsubscribe", "delivery"]


@router.get("/bounces", response_model=Page[BouncePublic])
def list_bounces(
    session: SessionDep,
    address: Annotated[str | None, Query(description="recipient address (matched by its dedupe key)")] = None,
    campaign: Annotated[int | None, Query(description="campaign id")] = None,
    kind: BounceKind | None = None,
    reason: Annotated[str | None, Query(description="reason, e.g. userunknown, mailboxfull")] = None,
    since: Annotated[datetime | None, Query(description="recorded at or after (ISO 8601; UTC if no offset)")] = None,
    limit: LimitQuery = 100,
    cursor: CursorQuery = None,
) -> Page[BouncePublic]:
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
    rows = list(session.exec(after_time_id(stmt, col(Bounce.created_at), col(Bounce.id), cursor).limit(limit + 1)))
    items, next_cursor = page_of(rows, limit, key=lambda b: (b.created_at, b.id))
    return Page(items=[BouncePublic.model_validate(b, from_attributes=True) for b in items], next_cursor=next_cursor)


@router.get("/sweeps", response_model=Page[MailboxSweepPublic])
def list_sweeps(session: SessionDep, limit: LimitQuery = 50, cursor: CursorQuery = None) -> Page[MailboxSweepPublic]:
    """The sweep log, newest first."""
    stmt = after_id(select(MailboxSweep), col(MailboxSweep.id), cursor, descending=True).limit(limit + 1)
    items, next_cursor = page_of(list(session.exec(stmt)), limit)
    return Page(
        items=[MailboxSweepPublic.model_validate(m, from_attributes=True) for m in items], next_cursor=next_cursor
    )


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

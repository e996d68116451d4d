"""/api/v1 routes for bounces: the bounce records and the sweep log, and "sweep now"."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status

from app.addresses import email_key
from app.api.pagination import CursorQuery, LimitQuery, Page
from app.bounces import queries
from app.bounces.schemas import BounceKind, BouncePublic, MailboxSweepPublic
from app.bounces.sweep import run_sweep
from app.deps import EngineDep, SessionDep, SettingsDep
from app.models import MailboxSweep

router = APIRouter(tags=["bounces"])


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
    address_key = None if address is None else email_key(address)
    wanted = queries.BounceFilter(address_key=address_key, campaign=campaign, kind=kind, reason=reason, since=since)
    query = queries.bounces_filtered(wanted)
    items, next_cursor = queries.bounces_page(session, query, limit, cursor)
    return Page(items=[BouncePublic.model_validate(b, from_attributes=True) for b in items], next_cursor=next_cursor)


@router.get("/sweeps", response_model=Page[MailboxSweepPublic])
def list_sweeps(session: SessionDep, limit: LimitQuery = 50, cursor: CursorQuery = None) -> Page[MailboxSweepPublic]:
    """The sweep log, newest first."""
    items, next_cursor = queries.sweeps_page(session, limit, cursor)
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

"""The campaign as the API answers it (with its progress), and the short-lived cache behind the two
polled reads, GET /campaigns/{id} and its /progress.

While a campaign sends, its progress (counts over the whole ledger) is computed at most once a second
per process, however many clients poll it: each count is a scan of the campaign's delivery rows."""

import threading
import time
from dataclasses import asdict

from sqlalchemy import Engine, event
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from app.api.errors import get_or_404
from app.deps import reading
from app.models import Campaign, utcnow
from app.sending import ledger
from app.sending.campaigns import percent_done
from app.sending.schemas import CampaignPublic, ProgressPublic

PROGRESS_TTL = 1.0
_recent_progress: dict[tuple[str, int], tuple[float, ProgressPublic]] = {}
_refreshing: dict[tuple[str, int], threading.Lock] = {}


def campaign_or_404(session: Session, campaign_id: int) -> Campaign:
    return get_or_404(session, Campaign, campaign_id, "campaign_id", "campaign")


def public(session: Session, campaign: Campaign, with_progress: bool = True, cached: bool = False) -> CampaignPublic:
    out = CampaignPublic.model_validate(campaign, from_attributes=True)
    if with_progress:
        out.progress = progress(session, campaign, cached)
    return out


def progress(session: Session, campaign: Campaign, cached: bool = False) -> ProgressPublic:
    key = (str(session.get_bind().engine.url), campaign.id or 0)
    hit = _recent_progress.get(key)
    if cached and campaign.state == "sending" and hit:
        if time.monotonic() - hit[0] < PROGRESS_TTL:
            return hit[1]
        # expired: one request recounts while the others polling meanwhile get the last counts, rather
        # than every request in flight scanning the ledger at once
        refreshing = _refreshing.setdefault(key, threading.Lock())
        if not refreshing.acquire(blocking=False):
            return hit[1]
        try:
            return _count_progress(session, campaign, key)
        finally:
            refreshing.release()
    return _count_progress(session, campaign, key)


def _count_progress(session: Session, campaign: Campaign, key: tuple[str, int]) -> ProgressPublic:
    p = ledger.progress(session, campaign, utcnow())
    percent = percent_done(p.done, p.total, campaign.state)
    out = ProgressPublic(**asdict(p), percent=percent)
    _recent_progress[key] = (time.monotonic(), out)
    return out


# While a campaign sends, GET /campaigns/{id} keeps its whole answer for the same PROGRESS_TTL and serves
# it again without a database read or a thread-pool hop. A change to the campaign in this process (API,
# web page, embedded worker through the ORM) drops it at once; one elsewhere shows within PROGRESS_TTL.
_recent_public: dict[tuple[str, int], tuple[float, CampaignPublic]] = {}
_reading_public: set[tuple[str, int]] = set()  # touched only on the event loop


@event.listens_for(Campaign, "after_update")
@event.listens_for(Campaign, "after_delete")
def _campaign_changed(*_: object) -> None:
    _recent_public.clear()


def _read_public(engine: Engine, campaign_id: int) -> CampaignPublic:
    with Session(reading(engine), expire_on_commit=False) as session:
        out = public(session, campaign_or_404(session, campaign_id), cached=True)
    if out.state == "sending":
        _recent_public[(str(engine.url), campaign_id)] = (time.monotonic(), out)
    return out


def _read_progress(engine: Engine, campaign_id: int) -> ProgressPublic:
    with Session(reading(engine), expire_on_commit=False) as session:
        return progress(session, campaign_or_404(session, campaign_id), cached=True)


# The two polled reads are awaited with all their database work in one thread-pool call (a sync route
# with a session dependency costs three hops, each of which may wait for the GIL behind the worker).
async def polled_public(engine: Engine, campaign_id: int) -> CampaignPublic:
    key = (str(engine.url), campaign_id)
    hit = _recent_public.get(key)
    if hit is not None and (time.monotonic() - hit[0] < PROGRESS_TTL or key in _reading_public):
        return hit[1]  # fresh, or expired while one request is already reading it again
    _reading_public.add(key)
    try:
        return await run_in_threadpool(_read_public, engine, campaign_id)
    finally:
        _reading_public.discard(key)


async def polled_progress(engine: Engine, campaign_id: int) -> ProgressPublic:
    return await run_in_threadpool(_read_progress, engine, campaign_id)

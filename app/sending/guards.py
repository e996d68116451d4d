"""Deliverability guards: a campaign's complaint and hard-bounce rates over the last 24 hours and 7 days,
judged against the thresholds in the settings; a rate past its pause threshold pauses the campaign
with the reason and raises the `campaign.paused` webhook event.

What counts (all from the ledger and the bounce table, by indexed ranges):
- messages out: ledger rows of the campaign last tried within the window that went to the relay and
  were not deferred — sent, bounced later, or refused at once (5xx);
- hard bounces: bounce rows of the campaign recorded within the window with `hard` set, whether a
  sweep found the DSN or the relay refused the recipient at send time; one per address;
- complaints: ARF reports the sweep recorded within the window; one per address.
Receivers judge the same way (Gmail's Postmaster Tools divides a day's complaints by the day's mail).

When it runs: after every sweep (DSNs and complaints arrive there), and in each sending worker at most
every `guard_check_seconds` after recording a batch (send-time refusals arrive there). Both read the
rates of sending campaigns only, a handful of indexed counts.

A window is judged only once `guard_min_messages` are out in it, for warnings and pauses alike: three
bounces out of ten messages say little. A marketer may resume a paused campaign while its rates are
under the pause thresholds; above them, resuming needs an explicit override (`resume(...,
override_guard=True)`), after which the guard still warns but no longer pauses that campaign.

Rates are counted per campaign; per sender identity and installation-wide they are sums of the
campaigns' counts (`total`)."""

import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import Engine, Select, and_, case, exists, func, or_, select, update
from sqlmodel import Session, col

from app.db import session_scope
from app.i18n import N_
from app.i18n import gettext as _
from app.models import Bounce, Campaign, Delivery, utcnow
from app.models.states import BounceKind, CampaignState, DeliveryState
from app.models.types import TEXT_LENGTH
from app.sending import state_counts
from app.settings import Settings
from app.subscription.compliance import Compliance, unsubscribe_compliance
from app.webhooks.events import emit_paused

WINDOWS: dict[str, timedelta] = {"24h": timedelta(hours=24), "7d": timedelta(days=7)}
# ledger states of a message that went out (a deferred row is tried again; an expired one never arrived)
OUT_STATES = (DeliveryState.SENT, DeliveryState.BOUNCED, DeliveryState.FAILED)
HARD_BOUNCES, COMPLAINTS = "hard_bounces", "complaints"
OK, WARN, PAUSE = "ok", "warn", "pause"


@dataclass(frozen=True)
class Counts:
    out: int = 0
    hard_bounces: int = 0
    complaints: int = 0

    def __add__(self, other: "Counts") -> "Counts":
        return Counts(self.out + other.out, self.hard_bounces + other.hard_bounces, self.complaints + other.complaints)

    def percent(self, metric: str) -> float | None:
        """The metric's share of the messages out, in percent; None with nothing out."""
        count = self.hard_bounces if metric == HARD_BOUNCES else self.complaints
        return 100.0 * count / self.out if self.out else None


@dataclass(frozen=True)
class Thresholds:
    complaint_warn: float
    complaint_pause: float
    bounce_warn: float
    bounce_pause: float
    min_messages: int

    @classmethod
    def from_settings(cls, settings: Settings) -> "Thresholds":
        return cls(
            settings.guard_complaint_warn_percent,
            settings.guard_complaint_pause_percent,
            settings.guard_bounce_warn_percent,
            settings.guard_bounce_pause_percent,
            settings.guard_min_messages,
        )

    def limits(self, metric: str) -> tuple[float, float]:
        """(warn, pause) thresholds of the metric, in percent."""
        if metric == HARD_BOUNCES:
            return self.bounce_warn, self.bounce_pause
        return self.complaint_warn, self.complaint_pause


@dataclass(frozen=True)
class Finding:
    """One rate of one window as judged: its level and the numbers behind it."""

    metric: str
    window: str
    level: str
    percent: float | None
    count: int
    out: int
    warn_at: float
    pause_at: float

    def facts(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "window": self.window,
            "percent": None if self.percent is None else round(self.percent, 2),
            "count": self.count,
            "out": self.out,
            "threshold": self.pause_at if self.level == PAUSE else self.warn_at,
        }


def judge(windows: dict[str, Counts], thresholds: Thresholds) -> list[Finding]:
    """Each metric of each window with its level: `pause` at or past the pause threshold, `warn` at or
    past the warning one, else `ok` — and `ok` while fewer than the minimum of messages are out."""
    found = []
    for window, counts in windows.items():
        for metric in (COMPLAINTS, HARD_BOUNCES):
            warn_at, pause_at = thresholds.limits(metric)
            percent = counts.percent(metric)
            count = counts.hard_bounces if metric == HARD_BOUNCES else counts.complaints
            level = OK
            if percent is not None and counts.out >= thresholds.min_messages and count:
                level = PAUSE if percent >= pause_at else WARN if percent >= warn_at else OK
            found.append(Finding(metric, window, level, percent, count, counts.out, warn_at, pause_at))
    return found


def worst(findings: Iterable[Finding]) -> Finding | None:
    """The finding to act on: a pause before a warning, then the higher share of its threshold."""
    ranked = [f for f in findings if f.level != OK]
    rank = {PAUSE: 2, WARN: 1}
    return max(ranked, key=lambda f: (rank[f.level], (f.percent or 0) / max(f.pause_at, 1e-9)), default=None)


# the rates, read from the ledger and the bounce table


def windows_by_campaign(
    session: Session, now: datetime, campaign_ids: Iterable[int] | None = None
) -> dict[str, dict[int, Counts]]:
    """Each window's counts per campaign, every window read in one pass over the longest. Without ids:
    every campaign that could have sent within the longest window (not finished before it), so the
    ranges read stay those of recent campaigns."""
    since = {w: now - span for w, span in WINDOWS.items()}
    earliest = min(since.values())
    if campaign_ids is None:
        recent = or_(col(Campaign.completed_at).is_(None), col(Campaign.completed_at) >= earliest)
        launched = col(Campaign.state).not_in((CampaignState.DRAFT, CampaignState.SCHEDULED))
        ids = list(session.execute(select(col(Campaign.id)).where(recent, launched)).scalars())
    else:
        ids = sorted(set(campaign_ids))
    out: dict[str, dict[int, dict[str, int]]] = {w: {i: {} for i in ids} for w in WINDOWS}
    if not ids:
        return {w: {} for w in WINDOWS}
    # a campaign launched within a window has every message it sent in it: its count of rows out is the
    # ledger's per-state count; the ledger's rows are read only for the windows that began after a launch
    launched_at: dict[int, datetime | None] = {
        i: at
        for i, at in session.execute(
            select(col(Campaign.id), col(Campaign.launched_at)).where(col(Campaign.id).in_(ids))
        ).all()
    }
    whole = {w: {i for i in ids if (at := launched_at.get(i)) is not None and at >= since[w]} for w in WINDOWS}
    if any(whole.values()):
        states = state_counts.per_state(session, set().union(*whole.values()))
        for w, in_window in whole.items():
            for i in in_window:
                out[w][i]["out"] = sum(states[i][s] for s in OUT_STATES)
    read: dict[datetime, list[int]] = defaultdict(list)  # from when on, for which campaigns
    for i in ids:
        if partial := [since[w] for w in WINDOWS if i not in whole[w]]:
            read[min(partial)].append(i)
    for start, group in read.items():
        sent, _ = count_statements(group, since, start)
        for campaign_id, *per_window in session.execute(sent).all():
            for w, n in zip(WINDOWS, per_window, strict=True):
                if campaign_id not in whole[w]:
                    out[w][campaign_id]["out"] = int(n or 0)
    _, found = count_statements(ids, since)
    for campaign_id, kind, *per_window in session.execute(found).all():
        for w, n in zip(WINDOWS, per_window, strict=True):
            out[w][campaign_id][HARD_BOUNCES if kind == BounceKind.BOUNCE else COMPLAINTS] = int(n or 0)
    return {w: {i: Counts(**c) for i, c in by.items()} for w, by in out.items()}


def count_statements(
    ids: list[int], since: dict[str, datetime], start: datetime | None = None
) -> tuple[Select[*tuple[Any, ...]], ...]:
    """Messages out per campaign and window (the partial index on campaign, last attempt and state
    answers it alone; rows from START on, the longest window's start by default), and hard bounces and
    complaints per campaign, kind and window (the bounce index on campaign and time, then the rows of that
    range); one column per window, in WINDOWS' order."""
    earliest = min(since.values())
    attempted = col(Delivery.last_attempt_at)
    sent = (
        select(
            col(Delivery.campaign_id),
            *(func.sum(case((attempted >= since[w], 1), else_=0)) for w in WINDOWS),
        )
        .where(
            col(Delivery.campaign_id).in_(ids), attempted >= (start or earliest), col(Delivery.state).in_(OUT_STATES)
        )
        .group_by(col(Delivery.campaign_id))
    )
    hard = and_(col(Bounce.kind) == BounceKind.BOUNCE, col(Bounce.hard))
    recorded, key = col(Bounce.created_at), col(Bounce.email_key)
    found = (
        select(
            col(Bounce.campaign_id),
            col(Bounce.kind),
            *(func.count(func.distinct(case((recorded >= since[w], key)))) for w in WINDOWS),
        )
        .where(
            col(Bounce.campaign_id).in_(ids), recorded >= earliest, or_(hard, col(Bounce.kind) == BounceKind.COMPLAINT)
        )
        .group_by(col(Bounce.campaign_id), col(Bounce.kind))
    )
    return sent, found


def total(counts: dict[int, Counts]) -> Counts:
    return sum(counts.values(), Counts())


@dataclass(frozen=True)
class Rates:
    """What the pages show: each window's counts and each rate's level."""

    windows: dict[str, Counts]
    findings: list[Finding]
    thresholds: Thresholds

    def finding(self, metric: str, window: str) -> Finding:
        return next(f for f in self.findings if f.metric == metric and f.window == window)


def campaign_rates(session: Session, settings: Settings, campaign_id: int, now: datetime) -> Rates:
    windows = {w: by.get(campaign_id, Counts()) for w, by in windows_by_campaign(session, now, [campaign_id]).items()}
    t = Thresholds.from_settings(settings)
    return Rates(windows, judge(windows, t), t)


def identity_rates(session: Session, settings: Settings, identity_id: int, now: datetime) -> Rates:
    """A sending identity's rates: the counts of the campaigns sent as it, summed."""
    ids = list(session.execute(select(col(Campaign.id)).where(col(Campaign.identity_id) == identity_id)).scalars())
    windows = {w: total(by) for w, by in windows_by_campaign(session, now, ids).items()}
    t = Thresholds.from_settings(settings)
    return Rates(windows, judge(windows, t), t)


def installation_rates(session: Session, settings: Settings, now: datetime) -> Rates:
    windows = {w: total(by) for w, by in windows_by_campaign(session, now).items()}
    t = Thresholds.from_settings(settings)
    return Rates(windows, judge(windows, t), t)


# what the pages show, kept a little once it is large: at a million ledger rows a count takes a second,
# and the rates of so many messages move slowly (the guard itself never reads these)
SHOWN_SECONDS = 30.0
SHOWN_KEPT_FROM = 100_000  # messages out in the longest window
_shown: "WeakKeyDictionary[object, dict[tuple[Any, ...], tuple[float, Rates]]]" = WeakKeyDictionary()
_shown_lock = threading.Lock()


def shown_rates(session: Session, settings: Settings, campaign_id: int | None) -> Rates:
    """A campaign's rates (None: the installation's) for a page; past SHOWN_KEPT_FROM messages, up to
    SHOWN_SECONDS old."""
    bind = session.get_bind()
    # by the connection pool: the API's reads come through an engine with options, a new one per request
    database = bind.engine.pool
    key = (campaign_id, Thresholds.from_settings(settings))
    with _shown_lock:
        hit = _shown.setdefault(database, {}).get(key)
    if hit is not None and time.monotonic() - hit[0] < SHOWN_SECONDS:
        return hit[1]
    now = utcnow()
    rates = (
        installation_rates(session, settings, now)
        if campaign_id is None
        else campaign_rates(session, settings, campaign_id, now)
    )
    if max(c.out for c in rates.windows.values()) >= SHOWN_KEPT_FROM:
        with _shown_lock:
            _shown[database][key] = (time.monotonic(), rates)
    return rates


def campaign_report(session: Session, settings: Settings, campaign_id: int) -> tuple[Rates, Compliance]:
    """What a campaign's page and the API show: its rates against the thresholds, and its unsubscribe
    compliance."""
    return shown_rates(session, settings, campaign_id), unsubscribe_compliance(session, campaign_id)


# acting on them

PAUSE_REASON = N_(
    "paused by the deliverability guard: %(metric)s reached %(percent)s %% of %(out)s messages in the last "
    "%(window)s (%(count)s), at or past the pause threshold of %(threshold)s %%"
)
_METRICS = {HARD_BOUNCES: N_("hard bounces"), COMPLAINTS: N_("complaints")}
_WINDOWS = {"24h": N_("24 hours"), "7d": N_("7 days")}


def _values(facts: dict[str, Any], translate: Callable[[str], str] = lambda s: s) -> dict[str, Any]:
    """The placeholders of a guard's text, from a finding's facts."""
    return {
        "metric": translate(_METRICS.get(facts["metric"], facts["metric"])),
        "window": translate(_WINDOWS.get(facts["window"], facts["window"])),
        "percent": f"{facts['percent']:g}",
        "out": facts["out"],
        "count": facts["count"],
        "threshold": f"{facts['threshold']:g}",
    }


def pause_text(facts: dict[str, Any], translate: Callable[[str], str] = lambda s: s) -> str:
    """The reason a guard pause gives, in English (what the API and webhooks carry) or, with
    `translate`, in the reader's language."""
    return translate(PAUSE_REASON) % _values(facts, translate)


def paused_reason(campaign: Campaign) -> str | None:
    """The reason a paused campaign shows on a page, in the reader's language when the guard paused it."""
    if campaign.guard_pause:
        return pause_text(campaign.guard_pause, lambda s: _(s))
    return campaign.paused_reason


Decision = tuple[int, Finding, dict[str, Counts]]  # campaign id, the rate past its pause threshold, the windows


def decide(
    session: Session, settings: Settings, now: datetime, campaign_ids: Iterable[int] | None = None
) -> list[Decision]:
    """The sending campaigns (of CAMPAIGN_IDS, or all) with a rate past its pause threshold, leaving out
    those a marketer resumed past the guard. Only reads."""
    query = select(col(Campaign.id)).where(
        col(Campaign.state) == CampaignState.SENDING, col(Campaign.guard_override).is_(False)
    )
    if campaign_ids is not None:
        wanted = sorted(set(campaign_ids))
        if not wanted:
            return []
        query = query.where(col(Campaign.id).in_(wanted))
    ids = list(session.execute(query).scalars())
    if not ids:
        return []
    by_window = windows_by_campaign(session, now, ids)
    thresholds = Thresholds.from_settings(settings)
    out = []
    for campaign_id in ids:
        windows = {w: by[campaign_id] for w, by in by_window.items()}
        decisive = worst(judge(windows, thresholds))
        if decisive is not None and decisive.level == PAUSE:
            out.append((campaign_id, decisive, windows))
    return out


def check_campaigns(
    session: Session, settings: Settings, now: datetime, campaign_ids: Iterable[int] | None = None
) -> list[int]:
    """Pause each sending campaign (of CAMPAIGN_IDS, or all) with a rate past its pause threshold, unless
    a marketer overrode the guard for it. Returns the ids paused. The caller commits."""
    return [c for c, f, w in decide(session, settings, now, campaign_ids) if _pause(session, c, f, w, now)]


def check_sending(
    engine: Engine, settings: Settings, now: datetime, campaign_ids: Iterable[int] | None = None
) -> list[int]:
    """check_campaigns for the worker and the sweep: the counts are read in a read-only transaction (on
    SQLite no write lock is held while a million ledger rows are counted), the pauses written in a
    short one of their own."""
    with Session(engine.execution_options(sqlite_read_only=True)) as session:
        found = decide(session, settings, now, campaign_ids)
    if not found:
        return []
    with session_scope(engine) as session:
        return [c for c, f, w in found if _pause(session, c, f, w, now)]


def _pause(session: Session, campaign_id: int, decisive: Finding, windows: dict[str, Counts], now: datetime) -> bool:
    facts = {**decisive.facts(), "at": now.isoformat()}
    reason = pause_text(facts)[:TEXT_LENGTH]
    won = session.execute(
        update(Campaign)
        .where(
            col(Campaign.id) == campaign_id,
            col(Campaign.state) == CampaignState.SENDING,
            col(Campaign.guard_override).is_(False),
        )
        .values(state=CampaignState.PAUSED, paused_reason=reason, guard_pause=facts, updated_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]  # an UPDATE returns a CursorResult; Session.execute is typed as Result
    if won:
        rates = {w: {"out": c.out, HARD_BOUNCES: c.hard_bounces, COMPLAINTS: c.complaints} for w, c in windows.items()}
        emit_paused(session, campaign_id, reason, now, cause="guard", guard={**facts, "rates": rates})
    return bool(won)


REFUSAL = (
    "the deliverability guard still finds %(metric)s at %(percent)s %% of %(out)s messages in the last %(window)s, "
    "at or past the pause threshold of %(threshold)s %%; resume with the override to send anyway"
)


def resume_refusal(
    session: Session, settings: Settings, campaign: Campaign, now: datetime, override: bool
) -> str | None:
    """Before a paused campaign sends again: why it may not while a rate is past its pause threshold
    (None: it may). An override lets it, and from then on the guard no longer pauses this campaign."""
    if override:
        campaign.guard_override = True
    if campaign.guard_override or campaign.id is None:
        campaign.guard_pause = None
        return None
    decisive = worst(campaign_rates(session, settings, campaign.id, now).findings)
    if decisive is not None and decisive.level == PAUSE:
        return REFUSAL % _values(decisive.facts())
    campaign.guard_pause = None
    return None


def sweep_minutes(session: Session, settings: Settings) -> int:
    """Minutes between scheduled sweeps: the saved interval, shortened to `guard_sweep_minutes` while a
    campaign is sending (its bounces and complaints only reach the guard through a sweep). 0: off."""
    interval = settings.sweep_interval_minutes
    if interval <= 0 or settings.guard_sweep_minutes <= 0 or settings.guard_sweep_minutes >= interval:
        return interval
    sending = session.execute(select(exists().where(col(Campaign.state) == CampaignState.SENDING))).scalar_one()
    return settings.guard_sweep_minutes if sending else interval


class Periodic:
    """True at most once every SECONDS: how often a sending worker reads the rates."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._next = 0.0

    def due(self) -> bool:
        now = time.monotonic()
        if now < self._next:
            return False
        self._next = now + self.seconds
        return True

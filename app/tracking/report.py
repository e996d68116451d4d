"""A campaign's report: what the ledger, the bounces and the suppressions say about its messages, its opens
and clicks by people and by machines over time, its links, its results per receiving domain and provider,
and the guard's rates. Every figure comes from an index or a pre-counted table (the ledger's states from
campaign_state_count, the domains from campaign_domain_state_count, both kept by triggers on the ledger; hits
from tracking_count, kept by the settling), so the report of a million deliveries reads in well under a second,
its first view as the next."""

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session, col

from app.db import is_postgresql
from app.models import (
    Bounce,
    Campaign,
    CampaignLink,
    MailingList,
    Suppression,
    TrackingCount,
)
from app.models.states import BounceKind, DeliveryState, SuppressionReason
from app.sending import guards, state_counts
from app.sending.providers import DOMAINS
from app.settings import Settings
from app.tracking import rules
from app.tracking.settle import ANY_CLICK

DOMAINS_SHOWN = 20
LINKS_SHOWN = 20


@dataclass
class Engagement:
    """Hits and unique messages of one kind (opens or clicks), by people and by machines."""

    human: int = 0
    human_unique: int = 0
    machine: int = 0
    machine_unique: int = 0
    machine_by_rule: dict[str, int] = field(default_factory=dict)


@dataclass
class Point:
    at: datetime
    human_opens: int = 0
    machine_opens: int = 0
    human_clicks: int = 0
    machine_clicks: int = 0


@dataclass
class LinkRow:
    position: int
    url: str
    human: int = 0
    human_unique: int = 0
    machine: int = 0


@dataclass
class DomainRow:
    domain: str
    provider: str
    recipients: int = 0
    sent: int = 0
    failed: int = 0
    bounced: int = 0
    complained: int = 0


@dataclass
class Report:
    campaign_id: int
    name: str
    state: str
    tracking: str
    recipients: int
    states: dict[str, int]
    delivered: int
    bounced: int
    bounced_by_reason: dict[str, int]
    complained: int
    unsubscribed: int
    unsubscribed_by_list: dict[str, int]
    opens: Engagement
    clicks: Engagement
    timeline: list[Point]
    links: list[LinkRow]
    domains: list[DomainRow]
    providers: list[DomainRow]
    rates: dict[str, dict[str, Any]]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def build(session: Session, settings: Settings, campaign: Campaign) -> Report:
    assert campaign.id is not None
    cid = campaign.id
    states = state_counts.per_state(session, [cid])[cid]
    recipients = sum(states.values())
    by_reason, bounced_keys, complained = _bounces(session, cid)
    unsubscribed_by_list = _unsubscribed(session, cid)
    opens, clicks, timeline, per_link = _engagement(session, cid)
    domains = _domains(session, cid)
    _add_bounces_by_domain(domains, bounced_keys)
    rates = guards.shown_rates(session, settings, cid)
    return Report(
        campaign_id=cid,
        name=campaign.name,
        state=campaign.state,
        tracking=campaign.tracking or "none",
        recipients=recipients,
        states=states,
        delivered=states[DeliveryState.SENT],
        bounced=sum(by_reason.values()),
        bounced_by_reason=dict(sorted(by_reason.items(), key=lambda kv: -kv[1])),
        complained=complained,
        unsubscribed=sum(unsubscribed_by_list.values()),
        unsubscribed_by_list=unsubscribed_by_list,
        opens=opens,
        clicks=clicks,
        timeline=timeline,
        links=_links(session, cid, per_link),
        domains=sorted(domains.values(), key=lambda d: (-d.recipients, d.domain))[:DOMAINS_SHOWN],
        providers=_providers(domains),
        rates={window: _rates(rates, window) for window in rates.windows},
    )


def _rates(rates: guards.Rates, window: str) -> dict[str, Any]:
    """One window's messages out, hard bounces and complaints, their percentages and the guard's verdict."""
    counts = rates.windows[window]
    bounces, complaints = rates.finding(guards.HARD_BOUNCES, window), rates.finding(guards.COMPLAINTS, window)
    return {
        "out": counts.out,
        "hard_bounces": counts.hard_bounces,
        "complaints": counts.complaints,
        "hard_bounce_percent": None if bounces.percent is None else round(bounces.percent, 3),
        "complaint_percent": None if complaints.percent is None else round(complaints.percent, 3),
        "hard_bounce_level": bounces.level,
        "complaint_level": complaints.level,
    }


def report_of(session: Session, settings: Settings, campaign_id: int) -> Report | None:
    """The campaign's report; None when there is no such campaign."""
    campaign = session.get(Campaign, campaign_id)
    return None if campaign is None else build(session, settings, campaign)


def csv_rows(report: Report) -> list[tuple[str, str, str, Any]]:
    """The report as rows of section, item, metric, value: every number the page shows."""
    out: list[tuple[str, str, str, Any]] = []
    summary = {
        "recipients": report.recipients,
        "delivered": report.delivered,
        "bounced": report.bounced,
        "complained": report.complained,
        "unsubscribed": report.unsubscribed,
    }
    out += [("summary", "", k, v) for k, v in summary.items()]
    out += [("ledger state", k, "messages", v) for k, v in report.states.items()]
    out += [("bounced by reason", k, "addresses", v) for k, v in report.bounced_by_reason.items()]
    out += [("unsubscribed by list", k, "addresses", v) for k, v in report.unsubscribed_by_list.items()]
    for kind, e in (("opens", report.opens), ("clicks", report.clicks)):
        out += [(kind, "people", "hits", e.human), (kind, "people", "unique", e.human_unique)]
        out += [(kind, "machines", "hits", e.machine), (kind, "machines", "unique", e.machine_unique)]
        out += [(kind, f"machines: {rule}", "hits", n) for rule, n in e.machine_by_rule.items()]
    for p in report.timeline:
        at = p.at.isoformat(timespec="minutes")
        out += [("hour", at, metric, getattr(p, metric)) for metric in ("human_opens", "machine_opens",
                                                                          "human_clicks", "machine_clicks")]  # fmt: skip
    for link in report.links:
        out += [("link", link.url, "human_clicks", link.human), ("link", link.url, "human_unique", link.human_unique)]
        out += [("link", link.url, "machine_clicks", link.machine)]
    for section, rows in (("domain", report.domains), ("provider", report.providers)):
        for d in rows:
            for metric in ("recipients", "sent", "failed", "bounced", "complained"):
                out.append((section, d.domain, metric, getattr(d, metric)))
    for window, values in report.rates.items():
        out += [("guard " + window, "", k, v) for k, v in values.items()]
    return out


def _bounces(session: Session, cid: int) -> tuple[dict[str, int], dict[str, int], int]:
    """Addresses hard- or soft-bounced per reason, per domain (bounced, and "complained:" domain), and the
    addresses that complained; counted by the database (a large campaign has tens of thousands)."""
    key = col(Bounce.email_key)
    mine = col(Bounce.campaign_id) == cid
    is_bounce, is_complaint = col(Bounce.kind) == BounceKind.BOUNCE, col(Bounce.kind) == BounceKind.COMPLAINT
    by_reason = {
        str(r): int(n)
        for r, n in session.execute(
            select(col(Bounce.reason), func.count(func.distinct(key)))
            .where(mine, is_bounce)
            .group_by(col(Bounce.reason))
        ).all()
    }
    domain = _domain_of(session, key).label("domain")
    per_domain: dict[str, int] = {}
    for kind, d, n in session.execute(
        select(col(Bounce.kind), domain, func.count(func.distinct(key)))
        .where(mine, is_bounce | is_complaint)
        .group_by(col(Bounce.kind), domain)
    ).all():
        per_domain[("complained:" if kind == BounceKind.COMPLAINT else "") + str(d).lower()] = int(n)
    complained = session.execute(select(func.count(func.distinct(key))).where(mine, is_complaint)).scalar_one()
    return by_reason, per_domain, int(complained)


def _unsubscribed(session: Session, cid: int) -> dict[str, int]:
    rows = session.execute(
        select(col(MailingList.name), func.count())
        .select_from(Suppression)
        .outerjoin(MailingList, col(MailingList.id) == col(Suppression.list_id))
        .where(col(Suppression.campaign_id) == cid, col(Suppression.reason) == SuppressionReason.UNSUBSCRIBED)
        .group_by(col(MailingList.name))
    ).all()
    return {(name if name is not None else "*"): int(n) for name, n in rows}


def _engagement(
    session: Session, cid: int
) -> tuple[Engagement, Engagement, list[Point], dict[int, tuple[int, int, int]]]:
    opens, clicks = Engagement(), Engagement()
    points: dict[datetime, Point] = {}
    per_link: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0])
    c = TrackingCount
    for hour, link, reason, hits, firsts in session.execute(
        select(col(c.hour), col(c.link), col(c.reason), col(c.hits), col(c.firsts)).where(col(c.campaign_id) == cid)
    ).all():
        machine = bool(reason)
        if link == ANY_CLICK:
            if machine:
                clicks.machine_unique += firsts
            else:
                clicks.human_unique += firsts
            continue
        kind = opens if link == 0 else clicks
        p = points.setdefault(hour, Point(hour))
        if machine:
            kind.machine += hits
            kind.machine_by_rule[reason] = kind.machine_by_rule.get(reason, 0) + hits
            if link == 0:
                kind.machine_unique += firsts
                p.machine_opens += hits
            else:
                p.machine_clicks += hits
                per_link[link][2] += hits
        else:
            kind.human += hits
            if link == 0:
                kind.human_unique += firsts
                p.human_opens += hits
            else:
                p.human_clicks += hits
                per_link[link][0] += hits
                per_link[link][1] += firsts
    for e in (opens, clicks):
        e.machine_by_rule = {r: e.machine_by_rule[r] for r in rules.RULES if r in e.machine_by_rule}
    timeline = [points[h] for h in sorted(points)]
    return opens, clicks, timeline, {k: (v[0], v[1], v[2]) for k, v in per_link.items()}


def _links(session: Session, cid: int, per_link: dict[int, tuple[int, int, int]]) -> list[LinkRow]:
    rows = session.execute(
        select(col(CampaignLink.position), col(CampaignLink.url)).where(col(CampaignLink.campaign_id) == cid)
    ).all()
    out = [LinkRow(int(p), str(u), *per_link.get(int(p), (0, 0, 0))) for p, u in rows]
    out.sort(key=lambda r: (-r.human, -r.machine, r.position))
    return out[:LINKS_SHOWN]


def _domain_of(session: Session, key: Any) -> Any:
    """The domain part of an address column, in SQL."""
    if is_postgresql(session):
        return func.split_part(key, "@", 2)
    return func.substr(key, func.instr(key, "@") + 1)


def _domains(session: Session, cid: int) -> dict[str, DomainRow]:
    out = {}
    for domain, states in state_counts.per_domain(session, cid).items():
        failed = sum(states.get(s, 0) for s in (DeliveryState.FAILED, DeliveryState.BOUNCED, DeliveryState.EXPIRED))
        sent = states.get(DeliveryState.SENT, 0)
        out[domain] = DomainRow(domain, DOMAINS.get(domain, "other"), sum(states.values()), sent, failed)
    return out


def _add_bounces_by_domain(domains: dict[str, DomainRow], per_domain: dict[str, int]) -> None:
    for key, n in per_domain.items():
        complained = key.startswith("complained:")
        d = key.removeprefix("complained:")
        row = domains.setdefault(d, DomainRow(d, DOMAINS.get(d, "other")))
        if complained:
            row.complained += n
        else:
            row.bounced += n


def _providers(domains: dict[str, DomainRow]) -> list[DomainRow]:
    out: dict[str, DomainRow] = {}
    for d in domains.values():
        p = out.setdefault(d.provider, DomainRow(d.provider, d.provider))
        p.recipients += d.recipients
        p.sent += d.sent
        p.failed += d.failed
        p.bounced += d.bounced
        p.complained += d.complained
    return sorted(out.values(), key=lambda p: (-p.recipients, p.domain))

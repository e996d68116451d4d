"""What /metrics reads from the database at scrape time: the counters every process added to, the ledger's
queue, the guard's complaint and hard-bounce rates, the workers' heartbeats and the last sweep. Each is one
cheap query on an index (the queue's oldest due row: one row per due state in `ix_delivery_due` order)."""

from collections.abc import Iterator
from datetime import datetime

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric, SummaryMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func, select
from sqlmodel import Session, col

from app.db import session_scope
from app.metrics import counters, heartbeat
from app.models import Delivery, MailboxSweep, utcnow
from app.models.states import DeliveryState
from app.sending.guards import COMPLAINTS, HARD_BOUNCES, shown_rates
from app.settings import Settings


class DatabaseCollector(Collector):
    def __init__(self, settings: Settings, engine: Engine) -> None:
        self.settings, self.engine = settings, engine

    def collect(self) -> Iterator[Metric]:
        now = utcnow()
        with session_scope(self.engine) as session:
            yield from _counters(counters.read(session))
            yield from _queue(session, now)
            yield from _rates(session, self.settings)
            yield from _last_sweep(session)
        yield from _workers(heartbeat.last_seen(self.engine), now)


def _counters(rows: list[tuple[str, dict[str, str], float]]) -> Iterator[Metric]:
    by_name: dict[str, list[tuple[dict[str, str], float]]] = {}
    for name, pairs, value in rows:
        by_name.setdefault(name, []).append((pairs, value))
    for kind in counters.COUNTERS:
        family = CounterMetricFamily(kind.name, kind.help, labels=kind.labels)
        for pairs, value in by_name.get(kind.name, []):
            family.add_metric([pairs.get(label, "") for label in kind.labels], value)
        yield family
    [(_, total)] = by_name.get(counters.SWEEP_SECONDS_SUM, [({}, 0.0)])
    [(_, count)] = by_name.get(counters.SWEEP_SECONDS_COUNT, [({}, 0.0)])
    yield SummaryMetricFamily(
        "bulkmail_sweep_duration_seconds", "How long the bounce sweeps took", count_value=int(count), sum_value=total
    )


def _queue(session: Session, now: datetime) -> Iterator[Metric]:
    depth = GaugeMetricFamily("bulkmail_queue_depth", "Ledger rows waiting to be sent, by state", labels=["state"])
    due_rows = {
        state: session.execute(select(func.count()).where(col(Delivery.state) == state)).scalar_one()
        for state in DeliveryState.DUE
    }
    for state, n in due_rows.items():
        depth.add_metric([state], n)
    yield depth
    oldest = [
        session.execute(
            select(col(Delivery.next_attempt_at))
            .where(col(Delivery.state) == state, col(Delivery.next_attempt_at) <= now)
            .order_by(col(Delivery.next_attempt_at))
            .limit(1)
        ).scalar_one_or_none()
        for state in DeliveryState.DUE
    ]
    due_since = min((at for at in oldest if at is not None), default=None)
    yield GaugeMetricFamily(
        "bulkmail_queue_oldest_due_age_seconds",
        "How long the longest-waiting due ledger row has been due (0: none is due)",
        value=max(0.0, (now - due_since).total_seconds()) if due_since else 0.0,
    )


def _rates(session: Session, settings: Settings) -> Iterator[Metric]:
    """The installation's rates as the dashboard shows them (the guard's windows, kept up to 30 s at scale)."""
    rates = shown_rates(session, settings, None)
    out = GaugeMetricFamily(
        "bulkmail_messages_out", "Messages out within the window (the rates' base)", labels=["window"]
    )
    complaints = GaugeMetricFamily(
        "bulkmail_complaint_ratio", "Complaints per message out within the window", labels=["window"]
    )
    bounces = GaugeMetricFamily(
        "bulkmail_hard_bounce_ratio", "Hard bounces per message out within the window", labels=["window"]
    )
    for window, counts in rates.windows.items():
        out.add_metric([window], counts.out)
        complaints.add_metric([window], (counts.percent(COMPLAINTS) or 0.0) / 100)
        bounces.add_metric([window], (counts.percent(HARD_BOUNCES) or 0.0) / 100)
    yield from (out, complaints, bounces)


def _last_sweep(session: Session) -> Iterator[Metric]:
    finished = session.execute(
        select(col(MailboxSweep.finished_at))
        .where(col(MailboxSweep.finished_at).is_not(None))
        .order_by(col(MailboxSweep.id).desc())
        .limit(1)
    ).scalar_one_or_none()
    yield GaugeMetricFamily(
        "bulkmail_last_sweep_timestamp_seconds",
        "When the last bounce sweep finished (Unix time; 0: none yet)",
        value=finished.timestamp() if finished else 0.0,
    )


def _workers(seen: list[tuple[str, datetime]], now: datetime) -> Iterator[Metric]:
    last = GaugeMetricFamily(
        "bulkmail_worker_last_heartbeat_timestamp_seconds",
        "When each sending worker was last seen working (Unix time)",
        labels=["worker"],
    )
    for worker, at in seen:
        last.add_metric([worker], at.timestamp())
    yield last
    alive = sum(1 for _, at in seen if (now - at).total_seconds() <= heartbeat.ALIVE_SECONDS)
    yield GaugeMetricFamily(
        "bulkmail_workers_alive", f"Sending workers seen within the last {heartbeat.ALIVE_SECONDS:.0f} s", value=alive
    )

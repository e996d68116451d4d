"""Counters kept in the database: each process adds what it did in the transaction that records it, so a
count is never lost or doubled by a crash, and every process reports the same totals."""

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col

from app.db import is_postgresql
from app.models import MetricCounter
from app.sending.providers import provider_label

if TYPE_CHECKING:  # the sending worker, the sweep and the webhook dispatcher import this module
    from app.models import MailboxSweep
    from app.sending.ledger import Outcome
    from app.sending.providers import ProviderMap

Labels = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Kind:
    """A counter as /metrics shows it: its name (without _total), what it counts, its label names."""

    name: str
    help: str
    labels: tuple[str, ...]


MESSAGES = Kind(
    "bulkmail_messages", "Messages by relay, receiving provider and outcome", ("relay", "provider", "outcome")
)
RELAY_REPLIES = Kind("bulkmail_relay_replies", "Relay replies to messages by class (2xx, 4xx, 5xx)", ("relay", "class"))
SWEEPS = Kind("bulkmail_sweeps", "Bounce sweeps finished, by state (done, failed)", ("state",))
SWEEP_MESSAGES = Kind("bulkmail_sweep_messages", "Mailbox messages the sweeps processed, by kind", ("kind",))
WEBHOOK_FAILURES = Kind(
    "bulkmail_webhook_delivery_failures", "Failed webhook POSTs: retried later, or the last one (gave_up)", ("outcome",)
)
COUNTERS = (MESSAGES, RELAY_REPLIES, SWEEPS, SWEEP_MESSAGES, WEBHOOK_FAILURES)
# the sweeps' durations, shown as a summary (sum and count)
SWEEP_SECONDS_SUM, SWEEP_SECONDS_COUNT = "bulkmail_sweep_duration_seconds_sum", "bulkmail_sweep_duration_seconds_count"

COUNTED_OUTCOMES = ("sent", "deferred", "failed")  # the delivery states an attempt ends in


def labels(kind: Kind, *values: str) -> tuple[str, Labels]:
    return kind.name, tuple(zip(kind.labels, values, strict=True))


Amounts = dict[tuple[str, Labels], float]


def add(session: Session, amounts: Amounts) -> None:
    """Add to the counters within the caller's transaction. The rows are written in one order, so two
    transactions adding to the same counters wait for each other instead of deadlocking."""
    rows = [
        {"name": name, "labels": json.dumps(dict(pairs), sort_keys=True), "value": float(value)}
        for (name, pairs), value in amounts.items()
        if value
    ]
    if not rows:
        return
    rows.sort(key=lambda r: (r["name"], r["labels"]))
    insert = pg_insert if is_postgresql(session) else sqlite_insert
    stmt = insert(MetricCounter).values(rows)
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=["name", "labels"],
            set_={"value": MetricCounter.__table__.c.value + stmt.excluded.value},  # type: ignore[attr-defined]  # SQLModel declares no __table__
        )
    )


def outcome_amounts(outcomes: Iterable["Outcome"], providers: "ProviderMap | None") -> Amounts:
    """What a recorded batch adds: each attempt by relay, provider and outcome, each relay reply by class."""
    amounts: Amounts = defaultdict(float)
    for o in outcomes:
        relay = o.relay or "none"
        if o.kind in COUNTED_OUTCOMES:
            amounts[labels(MESSAGES, relay, provider_label(o.row.email_key, providers), o.kind)] += 1
        if o.code is not None and 200 <= o.code < 600:
            amounts[labels(RELAY_REPLIES, relay, f"{o.code // 100}xx")] += 1
    return amounts


def read(session: Session) -> list[tuple[str, dict[str, str], float]]:
    """Every counter's rows: (name, labels, value)."""
    rows = session.execute(
        select(col(MetricCounter.name), col(MetricCounter.labels), col(MetricCounter.value)).order_by(
            col(MetricCounter.name), col(MetricCounter.labels)
        )
    ).all()
    return [(name, json.loads(pairs), value) for name, pairs, value in rows]


def sweep_amounts(sweep: "MailboxSweep") -> Amounts:
    """What a finished sweep adds: its state, its messages by kind, its duration."""
    amounts: Amounts = defaultdict(float, {labels(SWEEPS, sweep.state): 1})
    for kind, n in sweep.per_kind.items():
        amounts[labels(SWEEP_MESSAGES, kind)] += n
    if sweep.finished_at is not None:
        amounts[(SWEEP_SECONDS_SUM, ())] += max(0.0, (sweep.finished_at - sweep.started_at).total_seconds())
        amounts[(SWEEP_SECONDS_COUNT, ())] += 1
    return amounts


def webhook_failure(gave_up: bool) -> Amounts:
    return {labels(WEBHOOK_FAILURES, "gave_up" if gave_up else "retry"): 1}

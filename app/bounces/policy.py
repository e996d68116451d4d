"""The suppression policy for bounces, in one place: the sweep and the sender apply it when a bounce
is recorded, and the audience compile uses the same rule as a query.

The rule (defaults H=1, S=3, T=30 days):
- hard: an address is suppressed once it has H hard bounces that came after its last clean send
  (a ledger row still `sent`, i.e. delivered and never bounced);
- soft: an address is suppressed once it has S soft bounces within the last T days.
  A soft bounce stops counting once a later message to the address has gone out and T days have
  passed without a bounce: that is exactly "older than T days", so the window is the whole rule.
Complaints, auto-replies, delay warnings and unsubscribe requests are not bounces and never count here,
and neither does a bounce attributed to nothing we sent (attribution `none`): forged mail with our
address as sender must not suppress strangers."""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, case, func, literal, or_, select
from sqlalchemy.sql import ColumnElement, Select
from sqlalchemy.sql.selectable import Exists
from sqlmodel import Session, col

from app.bounces.suppress import Wanted, ensure_suppressions
from app.db import chunks, update_rows
from app.models import Bounce, Delivery, Suppression
from app.models.states import BounceKind, DeliveryState, SuppressionReason
from app.settings import Settings


@dataclass(frozen=True)
class BouncePolicy:
    hard_threshold: int = 1
    soft_threshold: int = 3
    window_days: int = 30

    @classmethod
    def from_settings(cls, settings: Settings) -> "BouncePolicy":
        return cls(settings.hard_bounce_threshold, settings.soft_bounce_threshold, settings.soft_bounce_window_days)


def _clean_send_since() -> Exists:
    """A message to the bounce's address went out at or after the bounce (a ledger row still `sent`):
    the bounce came before the last clean send. An anti-join, so the planner estimates it as one
    (a scalar max() per bounce row looked like millions of rows of work, and PostgreSQL then spent
    seconds compiling the statement with JIT)."""
    return (
        select(literal(1))
        .where(
            col(Delivery.email_key) == Bounce.email_key,
            col(Delivery.state) == DeliveryState.SENT,
            col(Delivery.sent_at) >= Bounce.created_at,
        )
        .correlate(Bounce)
        .exists()
    )


def _counting(policy: BouncePolicy, now: datetime) -> ColumnElement[bool]:
    """The bounce rows that count towards suppression."""
    hard = and_(col(Bounce.hard).is_(True), ~_clean_send_since())
    soft = and_(col(Bounce.hard).is_(False), col(Bounce.created_at) >= now - timedelta(days=policy.window_days))
    # a bounce we cannot tie to anything we sent (backscatter from forged mail) never suppresses
    return and_(col(Bounce.kind) == BounceKind.BOUNCE, col(Bounce.attribution) != "none", or_(hard, soft))


def bounced_keys(policy: BouncePolicy, now: datetime) -> Select:
    """email_keys the policy suppresses right now, as a query to join or anti-join against."""
    hard_count = func.sum(case((col(Bounce.hard).is_(True), 1), else_=0))
    soft_count = func.count() - hard_count
    return (
        select(col(Bounce.email_key))
        .where(_counting(policy, now))
        .group_by(Bounce.email_key)
        .having(or_(hard_count >= policy.hard_threshold, soft_count >= policy.soft_threshold))
    )


def _over_threshold(policy: BouncePolicy, rows: Iterable[tuple[int, bool]]) -> list[int] | None:
    hard: list[int] = []
    soft: list[int] = []
    for bounce_id, is_hard in rows:
        (hard if is_hard else soft).append(bounce_id)
    if len(hard) >= policy.hard_threshold:
        return hard
    if len(soft) >= policy.soft_threshold:
        return soft
    return None


def counting_bounce_ids(session: Session, policy: BouncePolicy, email_key: str, now: datetime) -> list[int] | None:
    """The bounces that put this address over a threshold, or None when it stays mailable."""
    rows = session.execute(
        select(col(Bounce.id), col(Bounce.hard)).where(col(Bounce.email_key) == email_key, _counting(policy, now))
    ).tuples()
    return _over_threshold(policy, rows)


def apply_policy_many(
    session: Session, policy: BouncePolicy, addresses: dict[str, str], now: datetime, source: str
) -> dict[str, int]:
    """apply_policy for many addresses (email_key -> email) in a few queries; returns email_key ->
    suppression id for the addresses that are suppressed. The caller commits."""
    per_key: dict[str, list[tuple[int, bool]]] = defaultdict(list)
    unlinked: set[int] = set()
    for chunk in chunks(sorted(addresses)):
        stmt = select(col(Bounce.email_key), col(Bounce.id), col(Bounce.hard), col(Bounce.suppression_id)).where(
            col(Bounce.email_key).in_(chunk),
            _counting(policy, now),
        )
        for key, bounce_id, hard, suppression_id in session.execute(stmt).tuples():
            per_key[key].append((bounce_id, hard))
            if suppression_id is None:
                unlinked.add(bounce_id)
    over = {key: ids for key, rows in per_key.items() if (ids := _over_threshold(policy, rows)) is not None}
    if not over:
        return {}
    wanted = {key: Wanted(addresses[key], SuppressionReason.BOUNCED) for key in over}
    suppression_ids = ensure_suppressions(session, wanted, source, now)
    links = [
        {"id": i, "suppression_id": suppression_ids[key]} for key, ids in over.items() for i in ids if i in unlinked
    ]
    update_rows(session, Bounce, links)
    return suppression_ids


def apply_policy(
    session: Session, policy: BouncePolicy, email: str, email_key: str, now: datetime, source: str
) -> Suppression | None:
    """Suppress the address as `bounced` when its bounces cross a threshold, and link the bounces
    that caused it. Returns the suppression (new or existing), or None. The caller commits."""
    session.flush()
    suppression_id = apply_policy_many(session, policy, {email_key: email}, now, source).get(email_key)
    return session.get(Suppression, suppression_id) if suppression_id is not None else None

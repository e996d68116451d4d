"""The suppression policy for bounces, in one place: the sweep and the sender apply it when a bounce
is recorded, and the audience compile uses the same rule as a query.

The rule (defaults H=1, S=3, T=30 days):
- hard: an address is suppressed once it has H hard bounces that came after its last clean send
  (a ledger row still `sent`, i.e. delivered and never bounced);
- soft: an address is suppressed once it has S soft bounces within the last T days.
  A soft bounce stops counting once a later message to the address has gone out and T days have
  passed without a bounce: that is exactly "older than T days", so the window is the whole rule.
Complaints, auto-replies and unsubscribe requests are not bounces and never count here."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.sql import Select
from sqlmodel import Session

from app.models import Bounce, Delivery, Suppression
from app.settings import Settings


@dataclass(frozen=True)
class BouncePolicy:
    hard_threshold: int = 1
    soft_threshold: int = 3
    window_days: int = 30

    @classmethod
    def from_settings(cls, settings: Settings) -> "BouncePolicy":
        return cls(settings.hard_bounce_threshold, settings.soft_bounce_threshold, settings.soft_bounce_window_days)


def _last_clean_send() -> Select:
    return (
        select(func.max(Delivery.sent_at))
        .where(Delivery.email_key == Bounce.email_key, Delivery.state == "sent")
        .correlate(Bounce)
        .scalar_subquery()
    )


def _counting(policy: BouncePolicy, now: datetime):  # type: ignore[no-untyped-def]
    """The bounce rows that count towards suppression."""
    last_clean = _last_clean_send()
    hard = and_(Bounce.hard.is_(True), or_(last_clean.is_(None), Bounce.created_at > last_clean))
    soft = and_(Bounce.hard.is_(False), Bounce.created_at >= now - timedelta(days=policy.window_days))
    return and_(Bounce.kind == "bounce", or_(hard, soft))


def bounced_keys(policy: BouncePolicy, now: datetime) -> Select:
    """email_keys the policy suppresses right now, as a query to join or anti-join against."""
    hard_count = func.sum(case((Bounce.hard.is_(True), 1), else_=0))
    soft_count = func.count() - hard_count
    return (
        select(Bounce.email_key)
        .where(_counting(policy, now))
        .group_by(Bounce.email_key)
        .having(or_(hard_count >= policy.hard_threshold, soft_count >= policy.soft_threshold))
    )


def counting_bounce_ids(session: Session, policy: BouncePolicy, email_key: str, now: datetime) -> list[int] | None:
    """The bounces that put this address over a threshold, or None when it stays mailable."""
    rows = session.execute(
        select(Bounce.id, Bounce.hard).where(Bounce.email_key == email_key, _counting(policy, now))
    ).all()
    hard = [i for i, h in rows if h]
    soft = [i for i, h in rows if not h]
    if len(hard) >= policy.hard_threshold:
        return hard
    if len(soft) >= policy.soft_threshold:
        return soft
    return None


def apply_policy(
    session: Session, policy: BouncePolicy, email: str, email_key: str, now: datetime, source: str
) -> Suppression | None:
    """Suppress the address as `bounced` when its bounces cross a threshold, and link the bounces
    that caused it. Returns the suppression (new or existing), or None. The caller commits."""
    ids = counting_bounce_ids(session, policy, email_key, now)
    if ids is None:
        return None
    suppression = session.execute(select(Suppression).where(Suppression.email_key == email_key)).scalars().first()
    if suppression is None:
        suppression = Suppression(email=email, email_key=email_key, reason="bounced", source=source, created_at=now)
        session.add(suppression)
        session.flush()
    for bounce in session.execute(select(Bounce).where(Bounce.id.in_(ids))).scalars():  # type: ignore[union-attr]
        if bounce.suppression_id is None:
            bounce.suppression_id = suppression.id
    return suppression


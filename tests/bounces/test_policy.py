from datetime import timedelta

from sqlmodel import Session, select

from app.bounces.policy import BouncePolicy, apply_policy, bounced_keys
from app.models import Bounce, Campaign, Delivery, Suppression, utcnow


def _bounce(session: Session, key: str, hard: bool, days_ago: float, kind: str = "bounce") -> Bounce:
    b = Bounce(
        kind=kind,
        reason="userunknown" if hard else "mailboxfull",
        hard=hard,
        email=key,
        email_key=key,
        attribution="ledger",
        created_at=utcnow() - timedelta(days=days_ago),
    )
    session.add(b)
    session.flush()
    return b


def _suppressed_now(session: Session, policy: BouncePolicy) -> set[str]:
    return set(session.execute(bounced_keys(policy, utcnow())).scalars())


def test_one_hard_bounce_suppresses_and_links_its_cause(session: Session) -> None:
    policy = BouncePolicy()
    b = _bounce(session, "gone@example.test", hard=True, days_ago=0)
    s = apply_policy(session, policy, "gone@example.test", "gone@example.test", utcnow(), source="sweep 1")
    session.commit()
    assert s is not None and s.reason == "bounced"
    session.refresh(b)
    assert b.suppression_id == s.id
    assert _suppressed_now(session, policy) == {"gone@example.test"}


def test_soft_bounces_need_three_within_the_window(session: Session) -> None:
    policy = BouncePolicy(soft_threshold=3, window_days=30)
    for days in (1, 5):
        _bounce(session, "full@example.test", hard=False, days_ago=days)
    _bounce(session, "full@example.test", hard=False, days_ago=45)  # outside the window: does not count
    assert apply_policy(session, policy, "full@example.test", "full@example.test", utcnow(), "t") is None
    assert _suppressed_now(session, policy) == set()
    _bounce(session, "full@example.test", hard=False, days_ago=0)
    assert apply_policy(session, policy, "full@example.test", "full@example.test", utcnow(), "t") is not None
    assert _suppressed_now(session, policy) == {"full@example.test"}


def test_complaints_and_autoreplies_never_count(session: Session) -> None:
    policy = BouncePolicy(hard_threshold=1, soft_threshold=1)
    _bounce(session, "ooo@example.test", hard=False, days_ago=0, kind="autoreply")
    _bounce(session, "ooo@example.test", hard=False, days_ago=0, kind="complaint")
    assert _suppressed_now(session, policy) == set()


def test_hard_bounce_count_resets_after_a_clean_send(session: Session) -> None:
    policy = BouncePolicy(hard_threshold=2)
    _bounce(session, "flaky@example.test", hard=True, days_ago=10)
    campaign = Campaign(name="c", from_address="a@example.test", subject="s")
    session.add(campaign)
    session.flush()
    session.add(
        Delivery(
            campaign_id=campaign.id,
            email="flaky@example.test",
            email_key="flaky@example.test",
            state="sent",
            sent_at=utcnow() - timedelta(days=5),
        )
    )
    _bounce(session, "flaky@example.test", hard=True, days_ago=1)
    session.commit()
    assert _suppressed_now(session, policy) == set(), "the bounce before the clean send no longer counts"
    _bounce(session, "flaky@example.test", hard=True, days_ago=0)
    assert _suppressed_now(session, policy) == {"flaky@example.test"}
    assert session.exec(select(Suppression)).all() == []

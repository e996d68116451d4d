"""Compile counts, exclusion reasons, `why` and the ledger freeze, on both databases."""

import random
import threading
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, text, update
from sqlmodel import Session

from app.audience.cms import CmsUser, upsert_users
from app.audience.compile import UnknownList, compile_audience, freeze_into_ledger
from app.audience.queries import unsubscribed_lists
from app.audience.why import why
from app.models import Bounce, Campaign, Contact, Delivery, ListMember, MailingList, utcnow
from app.settings import Settings
from tests.audience.support import add_contacts, bounce, make_list, suppress


@pytest.fixture
def lists(session: Session):  # type: ignore[no-untyped-def]
    news = make_list(session, "News")
    vip = make_list(session, "VIP")
    add_contacts(session, news, "a@x.org", "b@x.org", "c@x.org", "d@x.org", "e@x.org", "f@x.org", "g@x.org")
    add_contacts(session, vip, "A@X.org", "h@x.org", "i@x.org")  # a@x.org is in both lists
    suppress(session, "b@x.org", "unsubscribed", source="one-click")
    suppress(session, "c@x.org", "complained")
    suppress(session, "d@x.org", "manual")
    suppress(session, "e@x.org", "bounced")
    bounce(session, "f@x.org", hard=True, diagnostic="550 5.1.1 user unknown")  # policy: 1 hard bounce
    for days in (1, 2, 3):
        bounce(session, "g@x.org", hard=False, days_ago=days)  # policy: 3 soft within 30 days
    bounce(session, "h@x.org", hard=False, days_ago=1)  # one soft bounce: still mailable
    for days in (40, 41, 42):
        bounce(session, "i@x.org", hard=False, days_ago=days)  # outside the window
    return news, vip


def test_counts_per_list_and_reason(session: Session, settings: Settings, lists) -> None:  # type: ignore[no-untyped-def]
    news, vip = lists
    compiled = compile_audience(session, [news.id, vip.id], settings, utcnow())
    assert compiled.counts == {
        "sources": {"News": 7, "VIP": 3},
        "candidates": 10,
        "duplicates": 1,
        "excluded": {
            "unconfirmed": 0,
            "unsubscribed": 1,
            "unsubscribed_list": 0,
            "bounced": 3,
            "complained": 1,
            "manual": 1,
        },
        "unsubscribed_by_list": {"News": 0, "VIP": 0},
        "included": 3,
        "needs_smtputf8": 0,
    }
    assert sorted(email for _, email, _ in compiled.contacts()) == ["a@x.org", "h@x.org", "i@x.org"]


def test_thresholds_come_from_settings(session: Session, settings: Settings, lists) -> None:  # type: ignore[no-untyped-def]
    news, vip = lists
    lenient = settings.model_copy(update={"soft_bounce_threshold": 4, "hard_bounce_threshold": 2})
    counts = compile_audience(session, [news.id, vip.id], lenient, utcnow()).counts
    assert counts["excluded"]["bounced"] == 1  # only the suppression row; f and g are mailable now
    assert counts["included"] == 5


def test_unknown_list_is_named(session: Session, settings: Settings) -> None:
    with pytest.raises(UnknownList, match="no list with id 999"):
        compile_audience(session, [999], settings, utcnow())


def test_why_explains_each_verdict(session: Session, settings: Settings, lists) -> None:  # type: ignore[no-untyped-def]
    news, vip = lists
    ids = [news.id, vip.id]
    now = utcnow()
    a = why(session, "A@x.org", ids, settings, now)
    assert a.included and 'list "News" via api' in a.detail and "counted once" in a.detail
    b = why(session, "b@x.org", ids, settings, now)
    assert (b.included, b.reason) == (False, "unsubscribed")
    assert b.detail.startswith(f"excluded: unsubscribed from all on {now:%Y-%m-%d}") and "by one-click" in b.detail
    f = why(session, "f@x.org", ids, settings, now)
    assert f.reason == "bounced" and "1 hard bounce since the last clean send" in f.detail and "5.1.1" in f.detail
    g = why(session, "g@x.org", ids, settings, now)
    assert g.reason == "bounced" and "3 soft bounces in the last 30 days" in g.detail
    assert why(session, "i@x.org", ids, settings, now).included
    assert why(session, "nobody@x.org", ids, settings, now).reason == "not_a_contact"
    assert why(session, "h@x.org", [news.id], settings, now).reason == "not_in_lists"
    assert "not a valid address" in why(session, "bob@@x.org", ids, settings, now).detail


def test_freeze_writes_one_queued_row_per_recipient(session: Session, settings: Settings, lists) -> None:  # type: ignore[no-untyped-def]
    news, vip = lists
    campaign = Campaign(name="c", from_address="news@example.test", subject="Hi")
    session.add(campaign)
    session.commit()
    now = utcnow()
    due = now + timedelta(minutes=5)
    counts = freeze_into_ledger(session, campaign.id, [news.id, vip.id], settings, now, due)  # type: ignore[arg-type]
    session.commit()
    assert counts["included"] == 3
    rows = session.execute(select(Delivery).order_by(Delivery.email)).scalars().all()
    assert [(d.email, d.state, d.attempts, d.next_attempt_at) for d in rows] == [
        ("a@x.org", "queued", 0, due),
        ("h@x.org", "queued", 0, due),
        ("i@x.org", "queued", 0, due),
    ]
    assert all(d.contact_id is not None and d.email_key == d.email for d in rows)
    # a second freeze adds nothing (unique per campaign + address)
    freeze_into_ledger(session, campaign.id, [news.id, vip.id], settings, now, due)  # type: ignore[arg-type]
    session.commit()
    assert session.execute(select(func.count()).select_from(Delivery)).scalar() == 3


def test_two_freezes_of_one_campaign_at_once_write_each_recipient_once(  # type: ignore[no-untyped-def]
    engine: Engine, settings: Settings, lists
) -> None:
    """PostgreSQL freezes a new ledger with a plain INSERT; a second launch of the same campaign racing it
    waits for the first, then keeps its rows. (SQLite runs one writer at a time.)"""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite lets one transaction write at a time")
    ids = [m.id for m in lists]
    with Session(engine) as s:
        campaign = Campaign(name="c", from_address="news@example.test", subject="Hi")
        s.add(campaign)
        s.commit()
        campaign_id = campaign.id
    now = utcnow()
    with Session(engine) as first, Session(engine) as second:
        counts = freeze_into_ledger(first, campaign_id, ids, settings, now, now)  # type: ignore[arg-type]
        pid = second.execute(text("SELECT pg_backend_pid()")).scalar_one()
        racing: dict[str, Any] = {}
        thread = threading.Thread(
            target=lambda: racing.update(counts=freeze_into_ledger(second, campaign_id, ids, settings, now, now))  # type: ignore[arg-type]
        )
        thread.start()
        waiting = "SELECT count(*) FROM pg_stat_activity WHERE pid = :pid AND wait_event_type = 'Lock'"
        while thread.is_alive() and not first.execute(text(waiting), {"pid": pid}).scalar_one():
            first.execute(text("SELECT pg_sleep(0.05)"))
        first.commit()
        thread.join()
        second.commit()
    assert racing["counts"] == counts
    with Session(engine) as s:
        rows = s.execute(select(Delivery.email).where(Delivery.campaign_id == campaign_id)).scalars().all()
    assert sorted(rows) == ["a@x.org", "h@x.org", "i@x.org"]


def test_freeze_and_counts_agree_with_why_for_every_address(session: Session, settings: Settings) -> None:
    """A mixed audience: overlapping lists, every suppression reason (some also bounced), hard bounces
    before and after a clean send, backscatter, soft bounces in and out of the window, non-ASCII local
    parts. The compile counts, the frozen ledger and `why` give the same verdict for each address."""
    rng = random.Random(7)
    lists = [make_list(session, n) for n in ("One", "Two", "Three")]
    addresses = [
        f"{rng.choice(['ann', 'bob', 'jörg', 'zoë', 'eve'])}{i}@{rng.choice(['x.org', 'y.de'])}" for i in range(90)
    ]
    rng.shuffle(addresses)
    for ml, share in zip(lists, (0.6, 0.5, 0.2), strict=True):
        add_contacts(session, ml, *[a for a in addresses if rng.random() < share])
    past = Campaign(name="past", from_address="news@example.test", subject="Past", state="completed")
    session.add(past)
    session.commit()
    now = utcnow()
    for n, address in enumerate(addresses):
        kind = n % 12
        if kind == 0:
            suppress(session, address, ("unsubscribed", "complained", "manual", "bounced")[n // 12 % 4])
        if kind in (0, 1, 2, 3):
            bounce(session, address, hard=True, days_ago=2)
        if kind in (2, 3):  # sent after the bounce: only the one after the send counts
            session.add(Delivery(campaign_id=past.id, email=address, email_key=address, state="sent",
                                 sent_at=now - timedelta(days=1 if kind == 2 else 5)))  # fmt: skip
        if kind == 4:
            session.add(Bounce(kind="bounce", reason="user_unknown", hard=True, email=address, email_key=address,
                               attribution="none", created_at=now - timedelta(days=1)))  # fmt: skip
        if kind in (5, 6, 7):
            for days in range(kind - 3):  # 2, 3 or 4 soft bounces
                bounce(session, address, hard=False, days_ago=days + (40 if kind == 7 else 1))
        # signups waiting for their confirmation: in every list (some also suppressed), or in list One only
        # (in when another list has them as subscribed)
        if kind == 10:
            suppress(session, address, "manual")
        if kind in (8, 9, 10):
            member = select(Contact.id).where(Contact.email_key == address).scalar_subquery()
            waiting = update(ListMember).where(ListMember.contact_id == member).values(status="unconfirmed")
            session.execute(waiting.where(ListMember.list_id == lists[0].id) if kind == 9 else waiting)
        # left one, two or all three lists one by one (some also suppressed, some also unconfirmed)
        if kind in (0, 4, 8, 9, 10, 11):
            for ml in lists[: 1 + n % 3]:
                suppress(session, address, "unsubscribed", list_id=ml.id)
    session.commit()
    ids = [ml.id for ml in lists]
    counts = compile_audience(session, ids, settings, now).counts  # type: ignore[arg-type]
    verdicts = {a: why(session, a, ids, settings, now) for a in addresses}  # type: ignore[arg-type]
    members = [v for v in verdicts.values() if v.memberships]  # the others are not contacts at all
    included = sorted(a for a, v in verdicts.items() if v.included)
    assert counts["candidates"] == sum(len(v.memberships) for v in members)
    assert counts["duplicates"] == counts["candidates"] - len(members)
    assert counts["excluded"] == {r: sum(v.reason == r for v in members) for r in counts["excluded"]}
    left = dict.fromkeys(counts["sources"], 0)
    for v in members:
        for m in v.memberships:
            left[m.list_name] += m.list_id in unsubscribed_lists(session, v.email_key or "")
    assert counts["unsubscribed_by_list"] == left and min(left.values()) > 0
    assert counts["included"] == len(included) and 0 < len(included) < len(members)
    assert counts["needs_smtputf8"] == sum(not a.isascii() for a in included) > 0
    assert min(counts["excluded"].values()) > 0
    campaign = Campaign(name="c", from_address="news@example.test", subject="Hi")
    session.add(campaign)
    session.commit()
    assert freeze_into_ledger(session, campaign.id, ids, settings, now, now) == counts  # type: ignore[arg-type]
    session.commit()
    rows = session.execute(
        select(Delivery.email, Delivery.email_key, Contact.email_key)
        .join(Contact, Contact.id == Delivery.contact_id)
        .where(Delivery.campaign_id == campaign.id)
    ).all()
    assert sorted(email for email, _, _ in rows) == included
    assert all(key == contact_key for _, key, contact_key in rows)
    assert sorted(email for _, email, _ in compile_audience(session, ids, settings, now).contacts()) == included  # type: ignore[arg-type]


def test_leaving_one_list_keeps_the_others(session: Session, settings: Settings) -> None:
    """A contact on lists A and B who unsubscribed from A: out of a send to A ("unsubscribed from this
    list"), still in a send to B and in one to A and B; neither a re-import into A nor a CMS push brings them
    back."""
    a, b = make_list(session, "A"), make_list(session, "B")
    add_contacts(session, a, "ann@x.org", "bob@x.org")
    add_contacts(session, b, "ann@x.org")
    suppress(session, "ann@x.org", "unsubscribed", source="one-click", list_id=a.id)
    now = utcnow()

    def audience(*ml: MailingList) -> tuple[list[str], dict[str, Any]]:
        compiled = compile_audience(session, [m.id for m in ml], settings, now)  # type: ignore[misc]
        return sorted(e for _, e, _ in compiled.contacts()), compiled.counts

    emails, counts = audience(a)
    assert emails == ["bob@x.org"]
    assert counts["excluded"]["unsubscribed_list"] == 1 and counts["excluded"]["unsubscribed"] == 0
    assert counts["unsubscribed_by_list"] == {"A": 1}
    verdict = why(session, "ann@x.org", [a.id], settings, now)  # type: ignore[list-item]
    assert (verdict.included, verdict.reason) == (False, "unsubscribed_list")
    assert verdict.detail.startswith(f"excluded: unsubscribed from A on {now:%Y-%m-%d}")
    assert "one-click" in verdict.detail
    assert audience(b)[0] == ["ann@x.org"]
    emails, counts = audience(a, b)
    assert emails == ["ann@x.org", "bob@x.org"] and counts["unsubscribed_by_list"] == {"A": 1, "B": 0}
    both = why(session, "ann@x.org", [a.id, b.id], settings, now)  # type: ignore[list-item]
    assert both.included and "unsubscribed from A" in both.detail
    add_contacts(session, a, "ann@x.org", source="csv")  # a re-import
    upsert_users(session, [CmsUser("ann-1", "ann@x.org", "Ann")], a.id, now)  # a CMS push
    session.commit()
    assert audience(a)[0] == ["bob@x.org"]
    campaign = Campaign(name="c", from_address="news@example.test", subject="Hi")
    session.add(campaign)
    session.commit()
    assert freeze_into_ledger(session, campaign.id, [a.id], settings, now, now)["included"] == 1  # type: ignore[arg-type,list-item]

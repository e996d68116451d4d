"""The deliverability guard: complaint and hard-bounce rates per campaign over 24 h and 7 days, warnings
and auto-pause past the thresholds once 500 messages are out, and what resuming takes afterwards."""

from datetime import timedelta

import pytest
from sqlalchemy import Engine, func, select
from sqlmodel import Session

from app.deps import reading
from app.models import Campaign, Delivery, WebhookEndpoint, WebhookEvent, utcnow
from app.sending import campaigns as service
from app.sending import guards
from app.sending.guards import COMPLAINTS, HARD_BOUNCES, OK, PAUSE, WARN, Counts, Thresholds, judge
from app.settings import Settings
from tests.sending.conftest import campaign_state, make_campaign, make_list, relay_settings, run_worker_until
from tests.sending.guard_support import bounce_rows, ledger_rows, sending_campaign
from tests.sending.sink import SinkServer

DEFAULTS = Thresholds(complaint_warn=0.1, complaint_pause=0.3, bounce_warn=5.0, bounce_pause=10.0, min_messages=500)


def _level(counts: Counts, metric: str, window: str = "24h") -> str:
    return next(f.level for f in judge({window: counts}, DEFAULTS) if f.metric == metric)


# the thresholds alone


def test_the_defaults_are_the_issue_s_numbers() -> None:
    assert Thresholds.from_settings(Settings()) == DEFAULTS


@pytest.mark.parametrize(
    ("out", "hard", "level"),
    [(1000, 49, OK), (1000, 50, WARN), (1000, 99, WARN), (1000, 100, PAUSE), (500, 60, PAUSE), (600, 90, PAUSE)],
)
def test_hard_bounces_warn_at_5_and_pause_at_10_percent(out: int, hard: int, level: str) -> None:
    assert _level(Counts(out, hard_bounces=hard), HARD_BOUNCES) == level


@pytest.mark.parametrize(
    ("out", "complaints", "level"), [(2000, 1, OK), (2000, 2, WARN), (2000, 5, WARN), (2000, 6, PAUSE), (500, 2, PAUSE)]
)
def test_complaints_warn_at_0_1_and_pause_at_0_3_percent(out: int, complaints: int, level: str) -> None:
    assert _level(Counts(out, complaints=complaints), COMPLAINTS) == level


def test_nothing_is_judged_before_500_messages_are_out() -> None:
    assert _level(Counts(499, hard_bounces=499), HARD_BOUNCES) == OK
    assert _level(Counts(499, complaints=100), COMPLAINTS) == OK
    assert _level(Counts(500, hard_bounces=50), HARD_BOUNCES) == PAUSE


def test_a_pause_outranks_a_warning_and_either_window_can_decide() -> None:
    found = judge({"24h": Counts(500, hard_bounces=30), "7d": Counts(3000, complaints=12)}, DEFAULTS)
    decisive = guards.worst(found)
    assert decisive is not None and (decisive.metric, decisive.window, decisive.level) == (COMPLAINTS, "7d", PAUSE)
    assert guards.worst(judge({"24h": Counts(500)}, DEFAULTS)) is None


def test_identity_and_installation_rates_are_sums_of_the_campaigns() -> None:
    """(An identity's rates on its page: tests/web/test_guard_pages.py.)"""
    by_campaign = {1: Counts(100, 5, 1), 2: Counts(300, 10, 0), 3: Counts(50, 0, 2)}
    assert guards.total(by_campaign) == Counts(450, 15, 3)


# against the database


def _subscribe(session: Session) -> None:
    session.add(WebhookEndpoint(url="http://127.0.0.1:9/hook", events=["campaign.paused"], secret="s"))
    session.commit()


def test_counts_read_each_window_from_the_ledger_and_the_bounce_table(engine: Engine, session: Session) -> None:
    campaign = sending_campaign(session)
    now = utcnow()
    ledger_rows(engine, campaign.id, 400, now - timedelta(hours=1))
    ledger_rows(engine, campaign.id, 100, now - timedelta(days=3), start=400)
    ledger_rows(engine, campaign.id, 30, now - timedelta(days=8), start=500)  # older than both windows
    ledger_rows(engine, campaign.id, 20, now - timedelta(hours=2), state="failed", start=600)  # refused at send time
    ledger_rows(engine, campaign.id, 7, now - timedelta(hours=2), state="deferred", start=700)  # not out yet
    bounce_rows(engine, campaign.id, 12, now - timedelta(hours=1))
    bounce_rows(engine, campaign.id, 3, now - timedelta(hours=1), hard=False)  # soft: not counted
    bounce_rows(engine, campaign.id, 2, now - timedelta(days=2), kind="complaint")
    windows = guards.windows_by_campaign(session, now, [campaign.id])
    assert windows["24h"][campaign.id] == Counts(420, hard_bounces=12, complaints=0)
    assert windows["7d"][campaign.id] == Counts(520, hard_bounces=12, complaints=2)
    # installation-wide: every campaign that could have sent in the window
    other = sending_campaign(session, "Autumn news")
    ledger_rows(engine, other.id, 80, now - timedelta(hours=3), start=1000)
    assert guards.installation_rates(session, Settings(), now).windows["24h"] == Counts(500, 12, 0)


def test_a_campaign_launched_within_a_window_counts_its_rows_out_from_the_per_state_counts(
    engine: Engine, session: Session
) -> None:
    campaign = sending_campaign(session)
    now = utcnow()
    campaign.launched_at = now - timedelta(days=3)  # inside 7 days, before the last 24 hours
    session.add(campaign)
    session.commit()
    ledger_rows(engine, campaign.id, 90, now - timedelta(hours=1))
    ledger_rows(engine, campaign.id, 40, now - timedelta(days=2), start=100)
    ledger_rows(engine, campaign.id, 5, now - timedelta(hours=2), state="failed", start=200)
    ledger_rows(engine, campaign.id, 7, None, state="queued", start=300)  # not out yet
    windows = guards.windows_by_campaign(session, now, [campaign.id])
    assert windows["24h"][campaign.id].out == 95 and windows["7d"][campaign.id].out == 135
    since = {w: now - span for w, span in guards.WINDOWS.items()}
    sent, _ = guards.count_statements([campaign.id], since)
    assert session.execute(sent).one()[1:] == (95, 135)  # the ledger itself says the same


def test_past_the_pause_threshold_with_500_out_the_campaign_pauses_with_the_reason_and_an_event(
    engine: Engine, session: Session
) -> None:
    _subscribe(session)
    campaign = sending_campaign(session)
    quiet = sending_campaign(session, "Quiet news")
    now = utcnow()
    ledger_rows(engine, campaign.id, 520, now - timedelta(minutes=5))
    bounce_rows(engine, campaign.id, 60, now - timedelta(minutes=1))
    ledger_rows(engine, quiet.id, 499, now - timedelta(minutes=5), start=1000)  # under the minimum: never judged
    bounce_rows(engine, quiet.id, 200, now - timedelta(minutes=1))

    assert guards.check_campaigns(session, Settings(), now) == [campaign.id]
    session.commit()
    session.expire_all()
    paused = session.get(Campaign, campaign.id)
    assert paused is not None and paused.state == "paused"
    assert paused.paused_reason == (
        "paused by the deliverability guard: hard bounces reached 11.54 % of 520 messages in the last 24 hours (60), "
        "at or past the pause threshold of 10 %"
    )
    assert paused.guard_pause is not None and paused.guard_pause["metric"] == HARD_BOUNCES
    assert session.get(Campaign, quiet.id).state == "sending"  # type: ignore[union-attr]
    [event] = session.execute(select(WebhookEvent).where(WebhookEvent.type == "campaign.paused")).scalars()
    assert event.data["campaign_id"] == campaign.id and event.data["cause"] == "guard"
    assert event.data["reason"] == paused.paused_reason
    assert event.data["guard"]["percent"] == 11.54 and event.data["guard"]["threshold"] == 10.0
    assert event.data["guard"]["rates"]["24h"] == {"out": 520, "hard_bounces": 60, "complaints": 0}


def test_a_warning_level_rate_keeps_the_campaign_sending(engine: Engine, session: Session) -> None:
    campaign = sending_campaign(session)
    now = utcnow()
    ledger_rows(engine, campaign.id, 1000, now - timedelta(minutes=5))
    bounce_rows(engine, campaign.id, 60, now)  # 6 %: a warning
    bounce_rows(engine, campaign.id, 2, now, kind="complaint")  # 0.2 %: a warning
    assert guards.check_campaigns(session, Settings(), now) == []
    rates = guards.campaign_rates(session, Settings(), campaign.id, now)
    assert rates.finding(HARD_BOUNCES, "24h").level == WARN and rates.finding(COMPLAINTS, "7d").level == WARN


def test_resuming_past_the_threshold_needs_the_override_which_then_stops_the_guard_pausing_it(
    engine: Engine, session: Session
) -> None:
    settings = Settings()
    campaign = sending_campaign(session)
    now = utcnow()
    ledger_rows(engine, campaign.id, 600, now - timedelta(minutes=5))
    ledger_rows(engine, campaign.id, 100, None, state="queued", start=600)  # still to send
    bounce_rows(engine, campaign.id, 90, now)
    guards.check_campaigns(session, settings, now)
    session.commit()
    session.refresh(campaign)

    with pytest.raises(service.CampaignStateError, match="still finds hard bounces at 15 % of 600 messages"):
        service.resume(session, campaign, settings, now)
    session.rollback()
    session.refresh(campaign)
    assert campaign.state == "paused"

    service.resume(session, campaign, settings, now, override_guard=True)
    session.commit()
    assert (campaign.state, campaign.guard_override, campaign.guard_pause) == ("sending", True, None)
    assert guards.check_campaigns(session, settings, now) == []  # overridden: it warns, no longer pauses


def test_resuming_under_the_threshold_is_allowed_without_override(engine: Engine, session: Session) -> None:
    settings = Settings()
    campaign = sending_campaign(session)
    now = utcnow()
    ledger_rows(engine, campaign.id, 500, now - timedelta(minutes=5))
    ledger_rows(engine, campaign.id, 100, None, state="queued", start=500)
    bounce_rows(engine, campaign.id, 50, now)
    assert guards.check_campaigns(session, settings, now) == [campaign.id]
    session.commit()
    session.refresh(campaign)
    # the marketer raised the threshold on the settings page
    service.resume(session, campaign, settings.model_copy(update={"guard_bounce_pause_percent": 20.0}), now)
    session.commit()
    assert campaign.state == "sending" and not campaign.guard_override


def test_send_time_refusals_pause_the_campaign_while_the_worker_sends(
    settings: Settings, engine: Engine, session: Session, sink: SinkServer
) -> None:
    """The relay refuses 15 % of the recipients at RCPT (550 5.1.1): the worker's own check pauses the
    campaign once 500 are out, and the rest stay queued."""
    people = [(f"r{i:03d}@x.test", "R", {"city": "Oslo"}) for i in range(600)]
    for address, _, _ in people[::7]:  # every 7th: 86 of 600
        sink.sink.rcpt_script[address] = [f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"]
    s = relay_settings(settings, sink.port, worker_batch=25, guard_check_seconds=0.001)
    lst = make_list(session, "all", people)
    campaign = make_campaign(session, [lst.id])
    service.launch(session, campaign, s, utcnow())
    session.commit()
    campaign_id = campaign.id
    session.rollback()
    run_worker_until(s, engine, lambda: campaign_state(engine, campaign_id) == "paused", timeout=120)
    with Session(engine) as check:
        paused = check.get(Campaign, campaign_id)
        out = check.execute(
            select(func.count()).where(Delivery.campaign_id == campaign_id, Delivery.state.in_(("sent", "failed")))
        ).scalar_one()
    assert paused is not None and paused.guard_pause is not None
    assert paused.guard_pause["metric"] == HARD_BOUNCES and paused.guard_pause["out"] >= 500
    assert paused.paused_reason.startswith("paused by the deliverability guard: hard bounces reached")  # type: ignore[union-attr]
    assert 500 <= out < 600


def test_pages_read_small_rates_fresh_and_keep_large_ones_a_little(engine: Engine, session: Session) -> None:
    small, large = sending_campaign(session), sending_campaign(session, "Large news")
    now = utcnow()
    ledger_rows(engine, small.id, 10, now)
    ledger_rows(engine, large.id, guards.SHOWN_KEPT_FROM, now, start=100)
    ids = (small.id, large.id)
    before = {c: guards.shown_rates(session, Settings(), c).windows["24h"] for c in ids}
    session.rollback()
    for c in ids:
        bounce_rows(engine, c, 1, now)
    after = {c: guards.shown_rates(session, Settings(), c).windows["24h"] for c in ids}
    assert after[ids[0]].hard_bounces == before[ids[0]].hard_bounces + 1
    assert after[ids[1]] == before[ids[1]]  # a second of counting saved; the guard itself reads fresh
    with Session(reading(engine)) as api_read:  # the API reads through an engine of its own per request
        assert guards.shown_rates(api_read, Settings(), ids[1]).windows["24h"] == before[ids[1]]
    assert guards.campaign_rates(session, Settings(), ids[1], now).windows["24h"].hard_bounces == 1

"""Sending windows and local-time delivery: rows due outside the window wait in the ledger, retries too, and
each recipient's local time is frozen at launch; the campaign sends nothing until its window opens."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlmodel import Session, col

from app.models import Campaign, Delivery
from app.sending import campaigns as service
from app.sending import ledger
from app.sending.ledger import Outcome
from app.sending.window import SendWindow, Timing, WindowInvalid
from tests.sending.conftest import SetClock, make_campaign, make_list, worker_running
from tests.sending.test_real_relay import NOREPLY, PEOPLE, _relay

BERLIN = ZoneInfo("Europe/Berlin")
DAYTIME = {"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "start": "08:00", "end": "20:00",
           "zone": "Europe/Berlin"}  # fmt: skip
TUESDAY_23H = datetime(2026, 12, 8, 23, 0, tzinfo=BERLIN).astimezone(UTC)
WEDNESDAY_8H = datetime(2026, 12, 9, 8, 0, tzinfo=BERLIN).astimezone(UTC)


def test_a_due_time_outside_the_window_moves_to_its_next_opening() -> None:
    weekdays = SendWindow.parse({**DAYTIME, "days": ["mon", "tue", "wed", "thu", "fri"]})
    friday_21h = datetime(2026, 12, 11, 21, 0, tzinfo=BERLIN)
    assert weekdays.next_open(friday_21h) == datetime(2026, 12, 14, 8, 0, tzinfo=BERLIN)  # Monday
    inside = datetime(2026, 12, 11, 19, 59, tzinfo=BERLIN)
    assert weekdays.next_open(inside) == inside
    assert weekdays.next_open(datetime(2026, 12, 11, 20, 0, tzinfo=BERLIN)).date().isoformat() == "2026-12-14"
    # across the spring change the opening is still 08:00 on the wall clock
    sunday = SendWindow.parse({**DAYTIME, "days": ["sun"]})
    opening = sunday.next_open(datetime(2027, 3, 27, 12, 0, tzinfo=BERLIN))
    assert opening.astimezone(BERLIN).strftime("%Y-%m-%d %H:%M %z") == "2027-03-28 08:00 +0200"


@pytest.mark.parametrize(
    ("window", "local", "field"),
    [
        ({**DAYTIME, "zone": "Mars/Olympus"}, None, "send_window.zone"),
        ({**DAYTIME, "days": []}, None, "send_window.days"),
        ({**DAYTIME, "start": "20:00", "end": "08:00"}, None, "send_window.end"),
        ({**DAYTIME, "start": "8 am"}, None, "send_window.start"),
        (None, {"at": "09:00", "zone_field": "tz", "default_zone": "Nowhere/Land"}, "local_time.default_zone"),
        (None, {"at": "09:00", "zone_field": "", "default_zone": "UTC"}, "local_time.zone_field"),
        (DAYTIME, {"at": "21:00", "zone_field": "tz", "default_zone": "UTC"}, "local_time.at"),
    ],
)
def test_a_window_or_local_time_that_cannot_be_used_is_refused_naming_the_field(window, local, field) -> None:
    with pytest.raises(WindowInvalid) as caught:
        Timing.of(window, local)
    assert caught.value.field == field


def _states(engine, campaign_id: int) -> dict[str, tuple[str, datetime | None]]:  # type: ignore[no-untyped-def]
    with Session(engine) as s:
        rows = s.execute(
            select(col(Delivery.email), col(Delivery.state), col(Delivery.next_attempt_at)).where(
                col(Delivery.campaign_id) == campaign_id
            )
        ).all()
    return {e: (st, at) for e, st, at in rows}


def test_local_time_freezes_each_recipients_own_hour_at_launch(settings, engine, session) -> None:
    people = [
        ("tokyo@example.test", "T", {"tz": "Asia/Tokyo", "city": "Kyoto"}),
        ("newyork@example.test", "N", {"tz": "America/New_York"}),
        ("nowhere@example.test", "X", {"tz": "Mars/Olympus"}),  # not a zone: the default
        ("plain@example.test", "P", {}),
    ]
    lst = make_list(session, "world", people)
    local = {"at": "09:00", "zone_field": "tz", "default_zone": "Europe/Berlin"}
    campaign = make_campaign(session, [lst.id], from_address=NOREPLY, local_time=local)
    service.launch(session, campaign, settings, TUESDAY_23H)
    session.commit()
    rows = _states(engine, campaign.id)
    assert {st for st, _at in rows.values()} == {"waiting"}
    local_hour = {e: at.astimezone(ZoneInfo(z)).strftime("%m-%d %H:%M") for e, (_st, at), z in zip(
        [p[0] for p in people], [rows[p[0]] for p in people],
        ["Asia/Tokyo", "America/New_York", "Europe/Berlin", "Europe/Berlin"], strict=True)}  # fmt: skip
    # 23:00 in Berlin is 07:00 on Wednesday in Tokyo and 17:00 on Tuesday in New York
    assert local_hour == {"tokyo@example.test": "12-09 09:00", "newyork@example.test": "12-09 09:00",
                          "nowhere@example.test": "12-09 09:00", "plain@example.test": "12-09 09:00"}  # fmt: skip
    assert rows["tokyo@example.test"][1] < rows["plain@example.test"][1] < rows["newyork@example.test"][1]
    with Session(engine) as s:
        c = s.get(Campaign, campaign.id)
        counts = ledger.progress(s, c, TUESDAY_23H).counts
        assert counts["waiting"] == 4 and counts["queued"] == 0
        # at 09:00 in Tokyo the Tokyo row is due work; the others still wait
        counts = ledger.progress(s, c, rows["tokyo@example.test"][1]).counts
        assert counts["waiting"] == 3 and counts["queued"] == 1


def test_a_retry_falling_outside_the_window_waits_for_it_apart_from_deferred(settings, engine, session) -> None:
    lst = make_list(session, "pair", PEOPLE[:2])
    campaign = make_campaign(session, [lst.id], from_address=NOREPLY, send_window=DAYTIME)
    evening = datetime(2026, 12, 9, 19, 50, tzinfo=BERLIN).astimezone(UTC)
    service.launch(session, campaign, settings, evening)  # inside the window: due at once
    session.commit()
    s = settings.model_copy(update={"retry_minutes": [30, 60]})
    with Session(engine) as sess:
        claimed = ledger.claim(sess, [campaign.id], 10, timedelta(minutes=5), "w", evening)
        assert len(claimed) == 2
        soon = [Outcome(r, "deferred", 451, "try later") for r in claimed]
        ledger.record(sess, soon, s, evening)  # the retry would be at 20:20: after the window
        sess.commit()
        rows = _states(engine, campaign.id)
        assert {st for st, _at in rows.values()} == {"waiting"}
        assert {at for _st, at in rows.values()} == {datetime(2026, 12, 10, 8, 0, tzinfo=BERLIN)}
        c = sess.get(Campaign, campaign.id)
        counts = ledger.progress(sess, c, evening).counts
        assert counts["waiting"] == 2 and counts["deferred"] == 0
        # nothing is claimed before the opening; at the opening the rows are deferred work again
        assert ledger.claim(sess, [campaign.id], 10, timedelta(minutes=5), "w", evening + timedelta(hours=1)) == []
        morning = datetime(2026, 12, 10, 8, 0, tzinfo=BERLIN).astimezone(UTC)
        assert len(ledger.claim(sess, [campaign.id], 10, timedelta(minutes=5), "w", morning)) == 2
        sess.commit()
    assert {st for st, _at in _states(engine, campaign.id).values()} == {"deferred"}


@pytest.mark.mailstack
def test_a_campaign_launched_at_23h_sends_nothing_until_the_window_opens_at_8h(mail, settings, engine, session) -> None:
    import time

    s = _relay(settings, mail)
    lst = make_list(session, "team", PEOPLE)
    campaign = make_campaign(session, [lst.id], from_address=NOREPLY, send_window=DAYTIME)
    clock = SetClock(TUESDAY_23H)
    service.launch(session, campaign, s, clock())
    session.commit()
    with worker_running(s, engine, clock):
        time.sleep(1.5)  # the worker runs through the night
        clock.at = WEDNESDAY_8H - timedelta(seconds=1)
        time.sleep(1.5)
        assert all(mail.messages(address) == [] for address, _f, _a in PEOPLE)
        assert {st for st, _at in _states(engine, campaign.id).values()} == {"waiting"}
        clock.at = WEDNESDAY_8H
        for address, first, _attrs in PEOPLE:
            [raw] = mail.wait_for_messages(address, 1, timeout=20)
            assert f"Subject: Hi {first}".encode() in raw
    rows = _states(engine, campaign.id)
    assert {st for st, _at in rows.values()} == {"sent"}
    with Session(engine) as sess:
        sent_at = sess.execute(select(col(Delivery.sent_at)).where(col(Delivery.campaign_id) == campaign.id)).scalars()
        assert all(at >= WEDNESDAY_8H for at in sent_at)


def test_a_local_time_row_due_outside_its_recipients_window_goes_back_to_wait(settings, engine, session, sink) -> None:
    import time

    from sqlalchemy import update

    from tests.sending.conftest import relay_settings

    people = [("tokyo@example.test", "T", {"tz": "Asia/Tokyo", "city": "Kyoto"}),
              ("berlin@example.test", "B", {"tz": "Europe/Berlin", "city": "Bonn"})]  # fmt: skip
    lst = make_list(session, "world", people)
    local = {"at": "09:00", "zone_field": "tz", "default_zone": "Europe/Berlin"}
    campaign = make_campaign(session, [lst.id], send_window=DAYTIME, local_time=local)
    service.launch(session, campaign, settings, TUESDAY_23H)
    session.commit()
    # a lease that ran out at 21:00 Tokyo time (13:00 in Berlin) leaves both rows due then
    clock = SetClock(datetime(2026, 12, 9, 21, 0, tzinfo=ZoneInfo("Asia/Tokyo")).astimezone(UTC))
    with Session(engine) as s:
        s.execute(update(Delivery).where(col(Delivery.campaign_id) == campaign.id)
                  .values(state="queued", next_attempt_at=TUESDAY_23H))  # fmt: skip
        s.commit()
    with worker_running(relay_settings(settings, sink.port), engine, clock):
        deadline = time.monotonic() + 20
        while len(sink.sink.accepted) < 1:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        time.sleep(1.0)
    assert [a.rcpt for a in sink.sink.accepted] == ["berlin@example.test"]
    tokyo = _states(engine, campaign.id)["tokyo@example.test"]
    assert tokyo[1] == datetime(2026, 12, 10, 8, 0, tzinfo=ZoneInfo("Asia/Tokyo"))  # the next opening, Tokyo time

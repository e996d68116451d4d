"""The compose page's sending window and local time: kept as typed, a bad one refused under its own input, and the
campaign page counting the rows that wait for the window."""

from sqlmodel import Session

from app.models import Campaign
from tests.web.test_campaign_pages import _fresh_form, _list

WINDOW = {"window_days": ["mon", "tue", "wed", "thu", "fri"], "window_start": "08:00", "window_end": "20:00",
          "window_zone": "Europe/Berlin"}  # fmt: skip


def test_a_window_is_saved_and_shown_again_and_a_bad_one_is_refused_under_its_input(web, engine):
    list_id = _list(web, "Ann Lee <ann@example.com>")
    form = {**_fresh_form(web.get("/campaigns/new").text), "name": "Morning", "subject": "Hi", "list_ids": str(list_id)}
    r = web.post("/campaigns/new", {**form, **WINDOW, "window_end": "07:00"})
    assert r.status_code == 400 and 'id="window_end-error">must be later than the start<' in r.text
    r = web.post("/campaigns/new", {**form, **WINDOW, "local_at": "09:00", "local_zone_field": ""})
    assert r.status_code == 400 and 'id="local_zone_field-error">' in r.text
    r = web.post("/campaigns/new", {**form, **WINDOW, "local_at": "09:00", "local_zone_field": "tz",
                                    "local_default_zone": "Asia/Tokyo"}, follow_redirects=False)  # fmt: skip
    assert r.status_code == 303, r.text
    campaign_id = int(r.headers["location"].rsplit("/", 1)[1])
    with Session(engine) as s:
        c = s.get(Campaign, campaign_id)
        assert c.send_window == {"days": WINDOW["window_days"], "start": "08:00", "end": "20:00",
                                 "zone": "Europe/Berlin"}  # fmt: skip
        assert c.local_time == {"at": "09:00", "zone_field": "tz", "default_zone": "Asia/Tokyo"}
    page = web.get(f"/campaigns/{campaign_id}/edit").text
    assert 'name="window_days" value="fri" checked' in page and 'name="window_days" value="sat">' in page
    assert 'id="window_start" name="window_start" type="time" value="08:00"' in page
    assert '<option value="Asia/Tokyo" selected>' in page


def test_the_campaign_page_counts_rows_waiting_for_the_window(web):
    list_id = _list(web, "Ann Lee <ann@example.com>\nBo Li <bo@example.com>")
    form = {**_fresh_form(web.get("/campaigns/new").text), "name": "Night", "subject": "Hi", "list_ids": str(list_id)}
    night = {
        "window_days": ["sun"],
        "window_start": "03:00",
        "window_end": "03:01",
        "window_zone": "Pacific/Kiritimati",
    }
    r = web.post("/campaigns/new", {**form, **night}, follow_redirects=False)
    campaign_id = int(r.headers["location"].rsplit("/", 1)[1])
    web.post(f"/campaigns/{campaign_id}/launch", {})
    page = web.get(f"/campaigns/{campaign_id}").text
    assert 'id="count-waiting">2<' in page and "waiting for the window" in page
    assert 'id="send-window">only sun, 03:00–03:01 Pacific/Kiritimati<' in page

"""The public archive, view in browser and send times in the marketer's time zone, as a reader and a marketer
see them."""

import html
import re
from datetime import UTC, datetime, timedelta

from sqlmodel import Session, select

from app.models import Campaign, Delivery
from app.secret_key import get_secret_key
from app.tokens import make_token
from tests.sending.conftest import make_campaign, make_list
from tests.web.conftest import Browser

SECRET_PEOPLE = [("zelda.private@secret.test", "Zelda", {"city": "Reykjavik"})]
PERSONAL = '<p>Dear {{ first_name }} ({{ email }}) in {{ city }} — {{ attributes.city }}</p><p>Spring offers</p><a href="{{ unsubscribe_url }}">unsubscribe</a> <a href="{{ preferences_url }}">prefs</a> <a href="{{ view_in_browser_url }}">web</a>'


def _archived(session: Session, list_ids: list[int], name: str, at: datetime, **kw) -> Campaign:  # type: ignore[no-untyped-def]
    fields = dict(name=name, archived=True, state="completed", launched_at=at, html_template=PERSONAL,
                  relay_ids=[], headers={})  # fmt: skip
    fields.update(kw)
    return make_campaign(session, list_ids, **fields)


def test_the_archive_shows_a_campaign_without_anyones_personal_data(anon_client, session):
    lst = make_list(session, "Members", SECRET_PEOPLE)
    lst.archive = True
    session.add(lst)
    session.commit()
    campaign = _archived(session, [lst.id], "Spring letter", datetime(2026, 5, 1, tzinfo=UTC))
    listing = anon_client.get(f"/archive/{lst.id}")
    assert listing.status_code == 200 and "Spring letter" in listing.text
    page = anon_client.get(f"/archive/{lst.id}/{campaign.id}")
    assert page.status_code == 200 and "Spring offers" in page.text
    for personal in ("Zelda", "zelda", "secret.test", "Reykjavik", "/u/", "/p/"):
        assert personal not in page.text, personal
    # its links lead back to the archive: nobody can be unsubscribed from there
    body = html.unescape(page.text)
    assert f'/archive/{lst.id}">unsubscribe' in body and f'/archive/{lst.id}/{campaign.id}">web' in body
    assert 'referrerpolicy="no-referrer"' in page.text


def test_only_archived_campaigns_of_lists_with_the_archive_on_are_public(anon_client, session):
    shown = make_list(session, "Open", SECRET_PEOPLE[:0])
    hidden = make_list(session, "Closed", [])
    shown.archive = True
    session.add(shown)
    session.commit()
    at = datetime(2026, 5, 1, tzinfo=UTC)
    private = _archived(session, [shown.id], "Not for the archive", at, archived=False)
    draft = _archived(session, [shown.id], "Still a draft", at, state="draft", launched_at=None)
    elsewhere = _archived(session, [hidden.id], "Closed list letter", at)
    listing = anon_client.get(f"/archive/{shown.id}").text
    assert "Not for the archive" not in listing and "Still a draft" not in listing and "Closed list" not in listing
    for list_id, campaign in ((shown.id, private), (shown.id, draft), (hidden.id, elsewhere), (shown.id, elsewhere)):
        assert anon_client.get(f"/archive/{list_id}/{campaign.id}").status_code == 404
    assert anon_client.get(f"/archive/{hidden.id}").status_code == 404
    assert anon_client.get("/archive/999999").status_code == 404


def test_a_lists_archive_is_switched_on_over_the_api(client, session):
    lst = make_list(session, "Api list", [])
    assert client.get(f"/api/v1/lists/{lst.id}").json()["archive"] is False
    assert client.patch(f"/api/v1/lists/{lst.id}", json={"archive": True}).json()["archive"] is True
    assert client.get(f"/archive/{lst.id}").status_code == 200
    assert client.patch(f"/api/v1/lists/{lst.id}", json={"name": "Renamed"}).json()["archive"] is True


def test_the_archive_is_paged_newest_first(anon_client, session):
    lst = make_list(session, "Paged", [])
    lst.archive = True
    session.add(lst)
    session.commit()
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for i in range(23):
        _archived(session, [lst.id], f"Letter {i:02d}", start + timedelta(days=i))
    first = anon_client.get(f"/archive/{lst.id}").text
    names = re.findall(r"Letter (\d\d)", first)
    assert names == [f"{i:02d}" for i in range(22, 2, -1)]
    next_url = re.search(r'href="([^"]+)" rel="next"', first)
    assert next_url
    second = anon_client.get(next_url.group(1).replace("&amp;", "&")).text
    assert re.findall(r"Letter (\d\d)", second) == ["02", "01", "00"]


def test_view_in_browser_shows_the_recipient_their_own_message_and_refuses_a_forged_link(
    client, anon_client, session, settings, engine
):
    lst = make_list(session, "Readers", [("ann@x.test", "Ann", {"city": "Oslo"})])
    created = client.post("/api/v1/campaigns", json={"name": "Hello", "from_address": "news@example.test",
                                                      "subject": "Hi {{ first_name }}", "list_ids": [lst.id],
                                                      "html_template": PERSONAL})  # fmt: skip
    assert client.post(f"/api/v1/campaigns/{created.json()['id']}/launch").status_code == 200
    delivery_id = session.exec(select(Delivery.id)).one()
    session.rollback()
    token = make_token(get_secret_key(settings, engine), "v", delivery_id)
    page = anon_client.get(f"/view/{token}")
    assert page.status_code == 200
    assert "Dear Ann (ann@x.test) in Oslo" in page.text and f"/view/{token}" in page.text and "/u/u" in page.text
    assert "sandbox" in page.headers["content-security-policy"] and page.headers["cache-control"] == "private, no-store"
    forged = token[:-1] + ("a" if token[-1] != "a" else "b")
    assert anon_client.get(f"/view/{forged}").status_code == 404
    assert anon_client.get(f"/view/{make_token(get_secret_key(settings, engine), 'u', delivery_id)}").status_code == 404
    assert "in a sent campaign" in anon_client.get("/view/preview").text


def test_send_times_are_typed_and_shown_in_the_marketers_zone_and_a_skipped_time_is_refused(
    web: Browser, engine
) -> None:
    assert web.post("/account/time-zone", {"time_zone": "Europe/Berlin"}, follow_redirects=False).status_code == 303
    assert web.post("/account/time-zone", {"time_zone": "Mars/Olympus"}).status_code == 400
    page = web.get("/campaigns/new").text
    assert '<option value="Europe/Berlin" selected>' in page
    form = {"name": "Autumn", "from_address": "news@example.test", "subject": "Hi", "text_template": "Hello",
            "send_zone": "Europe/Berlin"}  # fmt: skip
    skipped = web.post("/campaigns/new", {**form, "send_at": "2026-03-29T02:30"})
    assert skipped.status_code == 400
    assert re.search(r'id="send_at-error">2026-03-29 02:30 does not exist in Europe/Berlin', skipped.text)
    assert 'value="2026-03-29T02:30"' in skipped.text  # what was typed stays
    # 02:30 happens twice on 2026-10-25: the first time, still on summer time (UTC+2)
    saved = web.post("/campaigns/new", {**form, "send_at": "2026-10-25T02:30"}, follow_redirects=False)
    assert saved.status_code == 303
    with Session(engine) as s:
        campaign = s.exec(select(Campaign)).one()
        assert campaign.send_at == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    shown = web.get(saved.headers["location"]).text
    assert "2026-10-25 02:30 Europe/Berlin, UTC+02:00" in shown
    edit = web.get(f"/campaigns/{campaign.id}/edit").text
    assert 'value="2026-10-25T02:30"' in edit

"""The campaign report: people's and machines' opens and clicks as the rules decide them, and the same
numbers on the page, in the CSV and over the API."""

import csv
import io
from datetime import timedelta

from fastapi.testclient import TestClient

from app.main import create_app
from app.models import utcnow
from tests.conftest import make_api_key
from tests.tracking.support import launched, message, sent, settle_all, tracked_urls
from tests.users.support import make_user_of, signed_in

CHROME = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"


def _path(url: str) -> str:
    return url.removeprefix("http://testserver")


def test_people_and_machines_are_counted_apart(settings, engine, session):
    campaign = launched(session, settings)
    a, b, c = sent(engine, campaign.id, utcnow() - timedelta(hours=1))
    with TestClient(create_app(settings)) as client:
        pixel, clicks = tracked_urls(message(engine, settings, campaign.id, a))
        client.get(_path(pixel), headers={"User-Agent": CHROME})  # a person
        client.get(_path(clicks[0]), headers={"User-Agent": CHROME}, follow_redirects=False)
        client.get(_path(clicks[0]), headers={"User-Agent": CHROME}, follow_redirects=False)  # again: not unique
        pixel, clicks = tracked_urls(message(engine, settings, campaign.id, b))
        client.get(_path(pixel), headers={"User-Agent": "Mozilla/5.0"})  # Apple's proxy
        pixel, clicks = tracked_urls(message(engine, settings, campaign.id, c))
        for url in clicks:  # a scanner following every link at once, with a browser's user agent
            client.get(_path(url), headers={"User-Agent": CHROME}, follow_redirects=False)
        client.get(_path(pixel), headers={"User-Agent": "Barracuda Sentinel (EE)"})
        client.app.state.recorder.flush()
        assert settle_all(engine, settings) == 7
        client.headers["Authorization"] = f"Bearer {make_api_key(engine, 'read')}"
        report = client.get(f"/api/v1/campaigns/{campaign.id}/report").json()
    assert report["opens"] == {"human": 1, "human_unique": 1, "machine": 2, "machine_unique": 2,
                               "machine_by_rule": {"apple": 1, "agent": 1}}  # fmt: skip
    assert report["clicks"] == {"human": 2, "human_unique": 1, "machine": 2, "machine_unique": 1,
                                "machine_by_rule": {"burst": 2}}  # fmt: skip
    assert report["delivered"] == 3 and report["recipients"] == 3
    top = report["links"][0]
    assert (top["url"], top["human"], top["human_unique"], top["machine"]) == (
        "https://shop.example/sale?a=1&b=2",
        2,
        1,
        1,
    )
    assert sum(p["human_clicks"] for p in report["timeline"]) == 2
    assert {p["domain"]: p["recipients"] for p in report["providers"]} == {"google": 1, "other": 2}


def test_a_hit_right_after_delivery_is_a_machines(settings, engine, session):
    campaign = launched(session, settings)
    [a, *_] = sent(engine, campaign.id, utcnow())
    with TestClient(create_app(settings)) as client:
        pixel, _clicks = tracked_urls(message(engine, settings, campaign.id, a))
        client.get(_path(pixel), headers={"User-Agent": CHROME})
        client.app.state.recorder.flush()
    settle_all(engine, settings)
    with TestClient(create_app(settings)) as client:
        client.headers["Authorization"] = f"Bearer {make_api_key(engine, 'read')}"
        report = client.get(f"/api/v1/campaigns/{campaign.id}/report").json()
    assert report["opens"]["machine_by_rule"] == {"prefetch": 1} and report["opens"]["human"] == 0


def test_anonymous_tracking_counts_without_naming_the_message(settings, engine, session):
    campaign = launched(session, settings, tracking="anonymous")
    a, b, _ = sent(engine, campaign.id, utcnow() - timedelta(hours=1))
    pa, ca = tracked_urls(message(engine, settings, campaign.id, a))
    pb, cb = tracked_urls(message(engine, settings, campaign.id, b))
    assert (pa, ca) == (pb, cb)  # the same URLs in every message: nothing tells one reader from another
    with TestClient(create_app(settings)) as client:
        client.get(_path(pa), headers={"User-Agent": CHROME})
        client.get(_path(ca[1]), headers={"User-Agent": CHROME}, follow_redirects=False)
        client.app.state.recorder.flush()
    settle_all(engine, settings)
    from sqlmodel import Session, select

    from app.models import TrackingHit

    with Session(engine) as s:
        assert [h.delivery_id for h in s.exec(select(TrackingHit))] == [None, None]
    with TestClient(create_app(settings)) as client:
        client.headers["Authorization"] = f"Bearer {make_api_key(engine, 'read')}"
        report = client.get(f"/api/v1/campaigns/{campaign.id}/report").json()
    assert report["tracking"] == "anonymous"
    assert (report["opens"]["human"], report["clicks"]["human"], report["opens"]["human_unique"]) == (1, 1, 0)


def test_report_page_and_csv_show_the_same_numbers(settings, engine, session):
    campaign = launched(session, settings)
    [a, *_] = sent(engine, campaign.id, utcnow() - timedelta(hours=1))
    make_user_of(engine, "viewer")
    with TestClient(create_app(settings)) as anon:
        app = anon.app
        client = signed_in(anon, "viewer@example.test")
        pixel, clicks = tracked_urls(message(engine, settings, campaign.id, a))
        client.get(_path(pixel), headers={"User-Agent": CHROME})
        client.get(_path(clicks[1]), headers={"User-Agent": CHROME}, follow_redirects=False)
        app.state.recorder.flush()
        settle_all(engine, settings)
        page = client.get(f"/campaigns/{campaign.id}/report")
        assert page.status_code == 200
        assert "<svg" in page.text and "https://shop.example/news" in page.text
        rows = list(csv.reader(io.StringIO(client.get(f"/campaigns/{campaign.id}/report.csv").text)))
        assert client.get("/campaigns/999999/report").status_code == 404
    assert rows[0] == ["section", "item", "metric", "value"]
    assert ["opens", "people", "hits", "1"] in rows and ["clicks", "people", "unique", "1"] in rows
    assert ["summary", "", "delivered", "3"] in rows

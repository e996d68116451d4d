"""One source of effective settings: what the settings page saved decides the audience wherever a send
is launched or previewed (API, web pages, CLI), and reaches other processes within the cache time."""

import os
import subprocess
import sys
import time

from sqlalchemy import update
from sqlmodel import Session, select

from app.config_store import live_for, save_settings
from app.models import Delivery, StoredSetting
from tests.audience.support import add_contacts, bounce, make_list
from tests.conftest import make_api_key
from tests.web.conftest import Browser

CAMPAIGN = {"name": "x", "from_address": "news@example.com", "subject": "Hi", "text_template": "Hello"}


def _recipients(engine, campaign_id: int) -> set[str]:  # type: ignore[no-untyped-def]
    with Session(engine) as s:
        return set(s.exec(select(Delivery.email).where(Delivery.campaign_id == campaign_id)).all())


def test_a_policy_saved_on_the_settings_page_gives_one_audience_whether_launched_by_api_or_web(
    web: Browser, settings, engine, session, db_url
):
    ml = make_list(session, "News")
    add_contacts(session, ml, "ann@example.com", "bob@example.com", "cy@example.com")
    bounce(session, "bob@example.com", hard=False, days_ago=1)  # one soft bounce: under the default of 3
    r = web.post("/settings", {"soft_bounce_threshold": "1", "action": "save"}, follow_redirects=False)
    assert r.status_code == 303

    api = {"Authorization": f"Bearer {make_api_key(engine)}"}
    ids = []
    for name in ("by api", "by web"):
        r = web.client.post("/api/v1/campaigns", json={**CAMPAIGN, "name": name, "list_ids": [ml.id]}, headers=api)
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    by_api = web.client.post(f"/api/v1/campaigns/{ids[0]}/launch", headers=api)
    assert by_api.status_code == 200, by_api.text
    assert web.post(f"/campaigns/{ids[1]}/launch", follow_redirects=False).status_code == 303
    by_web = web.client.get(f"/api/v1/campaigns/{ids[1]}", headers=api).json()

    assert by_api.json()["audience_counts"] == by_web["audience_counts"]
    assert by_web["audience_counts"]["excluded"]["bounced"] == 1 and by_web["audience_counts"]["included"] == 2
    assert _recipients(engine, ids[0]) == _recipients(engine, ids[1]) == {"ann@example.com", "cy@example.com"}

    preview = web.client.post("/api/v1/audience/preview", json={"list_ids": [ml.id]}, headers=api).json()
    assert preview["excluded"]["bounced"] == 1 and preview["included"] == 2
    verdict = web.client.get("/api/v1/audience/why", params={"address": "bob@example.com"}, headers=api).json()
    assert verdict["reason"] == "bounced" and "threshold 1" in verdict["detail"]
    page = web.get(f"/audience?list_id={ml.id}&address=bob@example.com").text
    assert '<h2 id="counts-h">2 recipients</h2>' in page and "(bounced)" in page

    # another process (the CLI) reads the same saved policy
    env = {**os.environ, "BULKMAIL_DATABASE_URL": db_url, "BULKMAIL_SECRET_KEY": "test-secret-key"}
    out = subprocess.run([sys.executable, "-m", "app", "why", "bob@example.com"], env=env, capture_output=True,
                         text=True, timeout=120)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "excluded: bounced" in out.stdout and "threshold 1" in out.stdout


def test_a_change_saved_by_another_process_is_seen_within_the_cache_time(settings, engine):
    live = live_for(settings.model_copy(update={"settings_cache_seconds": 0.5}), engine)
    save_settings(engine, {"soft_bounce_threshold": "4"})
    assert live.get().soft_bounce_threshold == 4, "a save in this process applies at once"
    # another process saves: it writes the table without touching this process's caches
    with Session(engine) as s:
        s.execute(update(StoredSetting).where(StoredSetting.key == "soft_bounce_threshold").values(value=7))
        s.commit()
    assert live.get().soft_bounce_threshold == 4, "cached: the hot path does not read the table every time"
    time.sleep(0.6)
    assert live.get().soft_bounce_threshold == 7

"""A campaign's tracking mode is fixed at launch: a paused campaign refuses another one on the API and on
its compose page, naming the field, and keeps the one it launched with; other changes still save."""

from sqlmodel import Session

from app.models import Campaign
from tests.sending.conftest import make_list
from tests.web.conftest import Browser

PEOPLE = [("ann@x.test", "Ann", {"city": "Oslo"})]


def _paused(client, session) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    lst = make_list(session, "l", PEOPLE)
    list_id = lst.id
    session.commit()
    session.close()  # the service writes from here on
    body = {"name": "Spring", "from_address": "news@example.test", "subject": "Hi", "text_template": "Hello",
            "list_ids": [list_id], "tracking": "contact"}  # fmt: skip
    cid = client.post("/api/v1/campaigns", json=body).json()["id"]
    assert client.post(f"/api/v1/campaigns/{cid}/launch").status_code == 200
    assert client.post(f"/api/v1/campaigns/{cid}/pause").json()["state"] == "paused"
    return int(cid), int(list_id)


def test_the_api_refuses_another_tracking_mode_after_launch(client, session, engine):  # type: ignore[no-untyped-def]
    cid, _ = _paused(client, session)
    for asked in ("anonymous", "none", None):
        refused = client.patch(f"/api/v1/campaigns/{cid}", json={"tracking": asked})
        assert refused.status_code == 422, asked
        [error] = refused.json()["errors"]
        assert error["loc"] == ["body", "tracking"]
        assert error["msg"] == "tracking was fixed at 'contact' when sending started; it cannot change now"
    same = client.patch(f"/api/v1/campaigns/{cid}", json={"tracking": "contact", "subject": "Hello"})
    assert same.status_code == 200 and same.json()["subject"] == "Hello"
    with Session(engine) as s:
        assert s.get(Campaign, cid).tracking == "contact"  # type: ignore[union-attr]


def test_the_compose_page_refuses_another_tracking_mode_after_launch(client, session, engine, web: Browser):  # type: ignore[no-untyped-def]
    cid, list_id = _paused(client, session)
    page = web.get(f"/campaigns/{cid}/edit").text
    assert '<option value="contact" selected>' in page
    form = {"name": "Spring", "from_address": "news@example.test", "subject": "Hi", "text_template": "Hello",
            "list_ids": str(list_id)}  # fmt: skip
    refused = web.post(f"/campaigns/{cid}/edit", {**form, "tracking": "anonymous"})
    assert refused.status_code == 400
    assert "tracking was fixed at &#39;contact&#39; when sending started; it cannot change now" in refused.text
    saved = web.post(
        f"/campaigns/{cid}/edit", {**form, "tracking": "contact", "subject": "Hello"}, follow_redirects=False
    )
    assert saved.status_code == 303
    with Session(engine) as s:
        campaign = s.get(Campaign, cid)
        assert campaign is not None and campaign.tracking == "contact" and campaign.subject == "Hello"

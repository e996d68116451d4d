"""The campaigns API: drafts checked on save, the life cycle, progress, ledger search, unsubscribe."""

from sqlalchemy import select
from sqlmodel import Session

from app.models import ConsentEvent, Delivery, Suppression
from app.secret_key import get_secret_key
from app.tokens import make_token
from tests.sending.conftest import SIMPLE_HTML, SIMPLE_TEXT, make_list

PEOPLE = [("ann@x.test", "Ann", {"city": "Oslo"}), ("bob@x.test", "Bob", {"city": "Rome"})]


def _body(list_ids: list[int], **kw) -> dict:  # type: ignore[no-untyped-def]
    body = {"name": "Spring", "from_name": "Shop", "from_address": "news@example.test", "subject": "Hi {{ first_name }}",
            "html_template": SIMPLE_HTML, "text_template": SIMPLE_TEXT, "list_ids": list_ids}  # fmt: skip
    body.update(kw)
    return body


def _error(resp) -> tuple[list, str]:  # type: ignore[no-untyped-def]
    detail = resp.json()["errors"][0]
    return detail["loc"], detail["msg"]


def test_a_template_with_an_unknown_variable_is_refused_on_save_naming_field_and_line(client, session):
    lst = make_list(session, "l", PEOPLE)
    resp = client.post("/api/v1/campaigns", json=_body([lst.id], text_template="Hi\n{{ frist_name }}\n"))
    assert resp.status_code == 422
    loc, msg = _error(resp)
    assert loc == ["body", "text_template"] and "line 2" in msg and "frist_name" in msg


def test_syntax_errors_and_sandbox_escapes_are_refused(client, session):
    lst = make_list(session, "l", PEOPLE)
    resp = client.post("/api/v1/campaigns", json=_body([lst.id], html_template="<p>\n{% if %}</p>"))
    assert resp.status_code == 422 and _error(resp)[0] == ["body", "html_template"] and "line 2" in _error(resp)[1]
    resp = client.post("/api/v1/campaigns", json=_body([lst.id], subject="{{ email.__class__.__mro__ }}"))
    assert resp.status_code == 422 and _error(resp)[0] == ["body", "subject"]


def test_bad_addresses_and_unknown_lists_name_the_field(client, session):
    lst = make_list(session, "l", PEOPLE)
    resp = client.post("/api/v1/campaigns", json=_body([lst.id], from_address="news@@example"))
    assert resp.status_code == 422 and _error(resp)[0] == ["body", "from_address"]
    resp = client.post("/api/v1/campaigns", json=_body([lst.id, 999]))
    assert resp.status_code == 422 and _error(resp)[0] == ["body", "list_ids"] and "999" in _error(resp)[1]


def test_life_cycle_launch_pause_resume_cancel_with_progress_and_ledger_search(client, session):
    lst = make_list(session, "l", PEOPLE)
    created = client.post("/api/v1/campaigns", json=_body([lst.id]))
    assert created.status_code == 201 and created.json()["state"] == "draft"
    cid = created.json()["id"]
    assert client.patch(f"/api/v1/campaigns/{cid}", json={"name": "Spring sale"}).json()["name"] == "Spring sale"

    launched = client.post(f"/api/v1/campaigns/{cid}/launch")
    assert launched.status_code == 200
    body = launched.json()
    assert body["state"] == "sending" and body["audience_counts"]["included"] == 2
    assert body["progress"]["counts"]["queued"] == 2 and body["progress"]["total"] == 2
    assert client.post(f"/api/v1/campaigns/{cid}/launch").status_code == 409
    assert client.patch(f"/api/v1/campaigns/{cid}", json={"name": "x"}).status_code == 409

    assert client.post(f"/api/v1/campaigns/{cid}/pause").json()["state"] == "paused"
    frozen = client.patch(f"/api/v1/campaigns/{cid}", json={"list_ids": []})
    assert frozen.status_code == 422 and _error(frozen)[0] == ["body", "list_ids"]
    assert client.patch(f"/api/v1/campaigns/{cid}", json={"subject": "Hello {{ first_name }}"}).status_code == 200
    assert client.post(f"/api/v1/campaigns/{cid}/pause").status_code == 409
    assert client.post(f"/api/v1/campaigns/{cid}/resume").json()["state"] == "sending"

    page = client.get(f"/api/v1/campaigns/{cid}/deliveries", params={"email": "ANN@"}).json()
    assert (
        len(page["items"]) == 1 and page["items"][0]["email"] == "ann@x.test" and page["items"][0]["state"] == "queued"
    )
    assert client.get(f"/api/v1/campaigns/{cid}/deliveries", params={"state": "sent"}).json()["items"] == []

    cancelled = client.post(f"/api/v1/campaigns/{cid}/cancel").json()
    assert cancelled["cancelled_deliveries"] == 2 and cancelled["campaign"]["state"] == "cancelled"
    progress = client.get(f"/api/v1/campaigns/{cid}/progress").json()
    assert progress["counts"]["cancelled"] == 2 and progress["percent"] == 100.0
    assert client.delete(f"/api/v1/campaigns/{cid}").status_code == 409


def test_ledger_search_finds_a_whole_address_itself_and_a_part_in_every_address(client, session):
    lst = make_list(session, "l", [*PEOPLE, ("jo.ann@x.test", "Jo", {"city": "Oslo"})])
    cid = client.post("/api/v1/campaigns", json=_body([lst.id])).json()["id"]
    assert client.post(f"/api/v1/campaigns/{cid}/launch").status_code == 200

    def found(term: str) -> list[str]:
        page = client.get(f"/api/v1/campaigns/{cid}/deliveries", params={"email": term}).json()
        return [d["email"] for d in page["items"]]

    # a whole address is looked up by the ledger's unique index: that address, not the ones containing it
    assert found(" Ann@X.test ") == ["ann@x.test"]
    assert found("jo.ann@x.test") == ["jo.ann@x.test"]
    assert found("nobody@x.test") == []
    assert sorted(found("ann@")) == ["ann@x.test", "jo.ann@x.test"]
    assert sorted(found("@x.test")) == ["ann@x.test", "bob@x.test", "jo.ann@x.test"]


def test_launch_with_a_future_send_time_schedules_and_a_draft_can_be_deleted(client, session):
    lst = make_list(session, "l", PEOPLE)
    cid = client.post("/api/v1/campaigns", json=_body([lst.id], send_at="2099-01-01T00:00:00Z")).json()["id"]
    assert client.post(f"/api/v1/campaigns/{cid}/launch").json()["state"] == "scheduled"
    assert client.get(f"/api/v1/campaigns/{cid}/progress").json()["total"] == 0
    draft = client.post("/api/v1/campaigns", json=_body([lst.id])).json()["id"]
    assert client.delete(f"/api/v1/campaigns/{draft}").status_code == 204
    assert client.get(f"/api/v1/campaigns/{draft}").status_code == 404
    assert [c["id"] for c in client.get("/api/v1/campaigns").json()["items"]] == [cid]


def test_one_click_unsubscribe_leaves_the_campaigns_list(client, session, settings, engine):
    lst = make_list(session, "l", PEOPLE)
    cid = client.post("/api/v1/campaigns", json=_body([lst.id])).json()["id"]
    client.post(f"/api/v1/campaigns/{cid}/launch")
    delivery = session.execute(select(Delivery).where(Delivery.email == "bob@x.test")).scalars().one()
    session.commit()  # SQLite: a reading transaction holds the write lock the endpoint needs
    token = make_token(get_secret_key(settings, engine), "u", delivery.id)

    page = client.get(f"/u/{token}")
    assert page.status_code == 200 and "bob@x.test" in page.text and 'method="post"' in page.text
    assert session.execute(select(Suppression)).first() is None  # a GET (link scanner) changes nothing
    session.commit()

    # what a mail provider sends for RFC 8058 one-click
    done = client.post(f"/u/{token}", data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200 and "unsubscribed" in done.text
    again = client.post(f"/u/{token}", data={"List-Unsubscribe": "One-Click"})
    assert again.status_code == 200
    with Session(engine) as s:
        rows = s.execute(select(Suppression)).scalars().all()
    assert [(r.email_key, r.reason, r.source, r.delivery_id, r.list_id) for r in rows] == [
        ("bob@x.test", "unsubscribed", "one-click", delivery.id, lst.id)
    ]
    # each request is in bob's consent ledger: from the campaign's list, by the one-click header, with where it came from
    with Session(engine) as s:
        events = s.execute(select(ConsentEvent).where(ConsentEvent.contact_id == delivery.contact_id)).scalars().all()
    assert [(e.action, e.list_id, e.actor_kind, e.source, e.ip) for e in events] == [
        ("unsubscribe", lst.id, "one_click", f"campaign {cid}", "testclient")
    ] * 2


def test_a_forged_or_verp_token_is_not_an_unsubscribe_link(client, session, settings, engine):
    lst = make_list(session, "l", PEOPLE)
    cid = client.post("/api/v1/campaigns", json=_body([lst.id])).json()["id"]
    client.post(f"/api/v1/campaigns/{cid}/launch")
    forged = make_token(b"another key", "u", 1)
    verp = make_token(get_secret_key(settings, engine), "d", 1)
    for token in (forged, verp, "nonsense"):
        assert client.post(f"/u/{token}", data={"List-Unsubscribe": "One-Click"}).status_code == 404
    assert session.execute(select(Suppression)).first() is None


def test_a_window_and_local_time_are_kept_and_a_bad_zone_is_refused_naming_its_field(client, session):
    lst = make_list(session, "l", PEOPLE)
    window = {"days": ["mon", "fri"], "start": "08:00", "end": "20:00", "zone": "Europe/Berlin"}
    resp = client.post("/api/v1/campaigns", json=_body([lst.id], send_window={**window, "zone": "Europe/Berlinn"}))
    assert resp.status_code == 422
    loc, msg = _error(resp)
    assert loc == ["body", "send_window", "zone"] and "Europe/Berlinn is not a time zone" in msg
    resp = client.post("/api/v1/campaigns", json=_body([lst.id], send_window={**window, "end": "07:00"}))
    assert resp.status_code == 422 and _error(resp)[0] == ["body", "send_window", "end"]
    local = {"at": "21:30", "zone_field": "tz", "default_zone": "UTC"}
    resp = client.post("/api/v1/campaigns", json=_body([lst.id], send_window=window, local_time=local))
    assert resp.status_code == 422 and _error(resp)[0] == ["body", "local_time.at"]  # outside the window's hours
    resp = client.post(
        "/api/v1/campaigns", json=_body([lst.id], send_window=window, local_time={**local, "at": "09:00"})
    )
    assert resp.status_code == 201, resp.text
    created = resp.json()
    assert created["send_window"] == window and created["local_time"]["zone_field"] == "tz"
    resp = client.patch(f"/api/v1/campaigns/{created['id']}", json={"send_window": None, "local_time": None})
    assert resp.status_code == 200 and resp.json()["send_window"] is None


def test_progress_counts_rows_waiting_for_the_window_apart_from_deferred(client, session):
    lst = make_list(session, "l", PEOPLE)
    night = {"days": ["sun"], "start": "03:00", "end": "03:01", "zone": "Pacific/Kiritimati"}
    created = client.post("/api/v1/campaigns", json=_body([lst.id], send_window=night)).json()
    assert client.post(f"/api/v1/campaigns/{created['id']}/launch").status_code == 200
    progress = client.get(f"/api/v1/campaigns/{created['id']}/progress").json()
    assert progress["counts"]["waiting"] == 2 and progress["counts"]["queued"] == 0
    assert progress["counts"]["deferred"] == 0 and progress["done"] == 0


def test_the_window_is_fixed_at_launch_and_a_paused_campaign_keeps_it(client, session):
    lst = make_list(session, "l", PEOPLE)
    night = {"days": ["sun"], "start": "03:00", "end": "03:01", "zone": "Pacific/Kiritimati"}
    created = client.post("/api/v1/campaigns", json=_body([lst.id], send_window=night)).json()
    client.post(f"/api/v1/campaigns/{created['id']}/launch")
    assert client.post(f"/api/v1/campaigns/{created['id']}/pause").status_code == 200
    resp = client.patch(f"/api/v1/campaigns/{created['id']}", json={"send_window": None})
    assert resp.status_code == 422 and _error(resp)[0] == ["body", "send_window"]
    assert "fixed when sending started" in _error(resp)[1]
    assert client.patch(f"/api/v1/campaigns/{created['id']}", json={"subject": "Hello"}).status_code == 200

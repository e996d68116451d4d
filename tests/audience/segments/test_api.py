"""The segments API and the audience and campaign APIs that name segments, end to end, on both databases."""

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlmodel import Session, col

from app.models import Delivery
from tests.audience.segments.conftest import World

API = "/api/v1"


def test_segments_crud_and_errors(client: TestClient, world: World) -> None:
    r = client.post(f"{API}/segments", json={"name": "Germans", "expression": "country =  'DE' AND received"})
    assert r.status_code == 201, r.text
    segment = r.json()
    assert segment["expression"] == "country = 'DE' and received"  # kept in its canonical form
    bad = client.post(f"{API}/segments", json={"name": "Bad", "expression": "country = 'DE' and\n  score > 'x'"})
    assert bad.status_code == 422
    error = bad.json()["errors"][0]
    assert error["loc"] == ["body", "expression"]
    assert error["msg"] == "line 2, column 11: expected a number, found the text 'x'"
    tracked = client.post(f"{API}/segments/preview", json={"expression": "not opened within 90 days"})
    assert tracked.status_code == 200 and tracked.json()["count"] == 3, tracked.text
    anonymous = client.post(f"{API}/segments/preview", json={"expression": f"opened campaign {world.anonymous}"})
    assert anonymous.status_code == 422 and anonymous.json()["errors"][0]["loc"] == ["body", "expression"]
    assert "without naming anyone" in anonymous.json()["errors"][0]["msg"]
    again = client.post(f"{API}/segments", json={"name": "Germans", "expression": "vip = true"})
    assert again.status_code == 409 and again.json()["errors"][0]["loc"] == ["body", "name"]
    client.post(f"{API}/segments", json={"name": "Austrians", "expression": "country = 'AT'"})
    page = client.get(f"{API}/segments", params={"limit": 1}).json()
    assert [s["name"] for s in page["items"]] == ["Austrians"] and page["next_cursor"]
    rest = client.get(f"{API}/segments", params={"limit": 1, "cursor": page["next_cursor"]}).json()
    assert [s["name"] for s in rest["items"]] == ["Germans"]
    patched = client.patch(f"{API}/segments/{segment['id']}", json={"expression": "country='DE'"})
    assert patched.status_code == 200 and patched.json()["expression"] == "country = 'DE'"
    refused = client.patch(f"{API}/segments/{segment['id']}", json={"expression": "country ="})
    assert refused.status_code == 422
    assert client.get(f"{API}/segments/{segment['id']}").json()["expression"] == "country = 'DE'"  # nothing lost
    assert client.delete(f"{API}/segments/{segment['id']}").status_code == 204
    assert client.get(f"{API}/segments/{segment['id']}").status_code == 404


def test_preview_counts_and_samples(client: TestClient, world: World) -> None:
    r = client.post(f"{API}/segments/preview", json={"expression": "country = 'DE' or bounced hard"})
    assert r.status_code == 200
    assert r.json() == {
        "expression": "country = 'DE' or bounced hard",
        "count": 3,
        "sample": ["ann@example.de", "bob@example.at", "cy@mail.de"],
    }


def test_a_campaign_to_segments_less_an_excluded_one(client: TestClient, session: Session, world: World) -> None:
    germans = client.post(f"{API}/segments", json={"name": "Germans", "expression": "country = 'DE'"}).json()
    recent = client.post(f"{API}/segments", json={"name": "Recent", "expression": "received within 3 days"}).json()
    body = {"name": "Hallo", "from_address": "news@example.test", "subject": "Hallo", "text_template": "Hallo",
            "segment_ids": [germans["id"]], "exclude_segment_ids": [recent["id"]]}  # fmt: skip
    unknown = client.post(f"{API}/campaigns", json={**body, "exclude_segment_ids": [999]})
    assert unknown.status_code == 422 and "no such segment: 999" in unknown.text
    r = client.post(f"{API}/campaigns", json=body)
    assert r.status_code == 201, r.text
    campaign = r.json()
    assert campaign["segment_ids"] == [germans["id"]] and campaign["exclude_segment_ids"] == [recent["id"]]
    preview = client.post(
        f"{API}/audience/preview", json={"segment_ids": [germans["id"]], "exclude_segment_ids": [recent["id"]]}
    ).json()
    assert preview["segments"] == {"Germans": 2} and preview["excluded_by_segment"] == {"Recent": 1}
    assert preview["included"] == 1
    nothing = client.post(f"{API}/audience/preview", json={})
    assert nothing.status_code == 422
    launched = client.post(f"{API}/campaigns/{campaign['id']}/launch")
    assert launched.status_code == 200, launched.text
    assert launched.json()["audience_counts"]["included"] == 1
    ledger = session.execute(select(col(Delivery.email)).where(col(Delivery.campaign_id) == campaign["id"])).scalars()
    assert list(ledger) == ["ann@example.de"]
    why = client.get(
        f"{API}/audience/why",
        params={"address": "cy@mail.de", "segment_id": germans["id"], "exclude_segment_id": recent["id"]},
    ).json()
    assert why["reason"] == "excluded_segment" and why["detail"].startswith(
        "excluded: in the excluded segment 'Recent'"
    )

"""One contract on every /api/v1 route: problem+json errors naming the field, cursor pages,
Idempotency-Key, size and rate limits, UTC timestamps."""

import threading
from datetime import datetime

from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlmodel import Session

from app.main import create_app
from app.models import Campaign, IdempotencyRecord
from app.settings import Settings
from tests.conftest import make_api_key

API = "/api/v1"
PROBLEM = "application/problem+json"
CAMPAIGN = {"name": "Spring", "from_address": "news@example.com", "subject": "Hi", "text_template": "Hello"}


def _campaigns(engine: Engine) -> int:
    with Session(engine) as s:
        return s.execute(select(func.count()).select_from(Campaign)).scalar_one()


def test_errors_are_problem_json_naming_the_field(client: TestClient, anon_client: TestClient) -> None:
    r = client.post(f"{API}/campaigns", json={**CAMPAIGN, "name": ""})
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM
    body = r.json()
    assert (body["status"], body["title"], body["instance"]) == (422, "Unprocessable Content", f"{API}/campaigns")
    assert body["errors"][0]["field"] == "name" and body["errors"][0]["pointer"] == "#/name"
    assert "name" in body["detail"]

    r = client.post(f"{API}/contacts/bulk", json={"contacts": [{"external_id": "1", "email": "a@b.c"}, {"email": 5}]})
    assert r.status_code == 422 and any(e["field"].startswith("contacts.1") for e in r.json()["errors"])

    r = client.get(f"{API}/campaigns/999")
    assert r.status_code == 404 and r.headers["content-type"] == PROBLEM and "999" in r.json()["detail"]
    r = client.get(f"{API}/campaigns", params={"limit": 0})
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["query", "limit"]

    r = anon_client.get(f"{API}/campaigns", headers={"Authorization": ""})
    assert r.status_code == 401 and r.headers["content-type"] == PROBLEM and r.headers["www-authenticate"] == "Bearer"
    # pages outside the API keep plain errors
    assert anon_client.get("/no-such-page").headers["content-type"] == "application/json"


def test_every_list_pages_by_cursor(client: TestClient) -> None:
    ids = [client.post(f"{API}/lists", json={"name": f"list {i}"}).json()["id"] for i in range(7)]
    seen, cursor, pages = [], None, 0
    while True:
        page = client.get(f"{API}/lists", params={"limit": 3} | ({"cursor": cursor} if cursor else {})).json()
        seen += [x["id"] for x in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
        client.post(f"{API}/lists", json={"name": f"added while paging {pages}"})
    # rows added while paging neither shift nor repeat what was already listed; they come at the end
    assert seen[:7] == ids and len(seen) == len(set(seen)) == 7 + pages - 1
    r = client.get(f"{API}/lists", params={"cursor": "not-a-cursor"})
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "cursor"

    openapi = client.get("/openapi.json").json()
    for path, item in openapi["paths"].items():
        get = item.get("get")
        if not path.startswith(API) or get is None or "{" in path.rsplit("/", 1)[-1] or path.endswith(".csv"):
            continue
        if path.endswith(("/progress", "/deliverability", "/report", "/why", "/export", "/signup", "/ab-test")):
            continue  # single resources
        names = {p["name"] for p in get.get("parameters", [])}
        schema = get["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
        assert {"limit", "cursor"} <= names and "offset" not in names, path
        assert set(openapi["components"]["schemas"][schema]["properties"]) == {"items", "next_cursor"}, path


def test_idempotency_key_returns_the_first_result(client: TestClient, engine: Engine) -> None:
    headers = {"Idempotency-Key": "create-spring-1"}
    first = client.post(f"{API}/campaigns", json=CAMPAIGN, headers=headers)
    again = client.post(f"{API}/campaigns", json=CAMPAIGN, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
    assert _campaigns(engine) == 1

    other = client.post(f"{API}/campaigns", json={**CAMPAIGN, "name": "Summer"}, headers=headers)
    assert other.status_code == 422 and other.json()["errors"][0]["field"] == "Idempotency-Key"
    assert client.post(f"{API}/campaigns", json=CAMPAIGN, headers={"Idempotency-Key": "another"}).status_code == 201
    assert _campaigns(engine) == 2

    # the same key from another API key is another request
    other_key = {"Authorization": f"Bearer {make_api_key(engine)}", **headers}
    assert "idempotent-replayed" not in client.post(f"{API}/campaigns", json=CAMPAIGN, headers=other_key).headers


def test_a_duplicate_while_the_first_is_running_gets_409(client: TestClient, engine: Engine) -> None:
    first = client.post(f"{API}/lists", json={"name": "a"}, headers={"Idempotency-Key": "k1"})
    with Session(engine) as s:  # as if the first request had not answered yet
        record = s.execute(select(IdempotencyRecord).where(IdempotencyRecord.key == "k1")).scalar_one()
        record.status_code = None
        s.add(record)
        s.commit()
    r = client.post(f"{API}/lists", json={"name": "a"}, headers={"Idempotency-Key": "k1"})
    assert first.status_code == 201 and r.status_code == 409 and r.headers["retry-after"] == "1"


def test_concurrent_duplicates_create_one_list(client: TestClient) -> None:
    results: list[int] = []

    def post() -> None:
        r = client.post(f"{API}/lists", json={"name": "once"}, headers={"Idempotency-Key": "race"})
        results.append(r.status_code)

    threads = [threading.Thread(target=post) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(201) >= 1 and set(results) <= {201, 409}
    assert [x["name"] for x in client.get(f"{API}/lists").json()["items"]] == ["once"]


def test_request_size_limit(settings: Settings, engine: Engine) -> None:
    small = settings.model_copy(update={"api_max_body_bytes": 2000})
    with TestClient(create_app(small), headers={"Authorization": f"Bearer {make_api_key(engine)}"}) as c:
        big = {"contacts": [{"external_id": str(i), "email": f"user{i}@example.com"} for i in range(100)]}
        r = c.post(f"{API}/contacts/bulk", json=big)
        assert r.status_code == 413 and r.headers["content-type"] == PROBLEM and "2000 bytes" in r.json()["detail"]

        def chunked():  # no Content-Length: counted as it arrives
            yield b'{"contacts": ['
            yield b" " * 3000
            yield b"]}"

        r = c.post(f"{API}/contacts/bulk", content=chunked(), headers={"Content-Type": "application/json"})
        assert r.status_code == 413
        assert c.post(f"{API}/lists", json={"name": "fits"}).status_code == 201


def test_rate_limit_per_key_with_retry_after(settings: Settings, engine: Engine) -> None:
    limited = settings.model_copy(update={"api_rate_per_second": 1.0, "api_rate_burst": 5})
    with TestClient(create_app(limited)) as c:
        a = {"Authorization": f"Bearer {make_api_key(engine)}"}
        b = {"Authorization": f"Bearer {make_api_key(engine)}"}
        codes = [c.get(f"{API}/lists", headers=a).status_code for _ in range(8)]
        assert codes[:5] == [200] * 5 and 429 in codes[5:]
        r = c.get(f"{API}/lists", headers=a)
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1 and r.headers["content-type"] == PROBLEM
        assert c.get(f"{API}/lists", headers=b).status_code == 200  # per key


def test_timestamps_are_utc_iso_8601(client: TestClient) -> None:
    created = client.post(f"{API}/lists", json={"name": "t"}).json()["created_at"]
    assert created.endswith(("Z", "+00:00")) and datetime.fromisoformat(created).utcoffset().total_seconds() == 0


def test_openapi_documents_the_contract_and_the_webhooks(anon_client: TestClient) -> None:
    doc = anon_client.get("/openapi.json").json()
    assert set(doc["webhooks"]) == {"bounce", "complaint", "unsubscribe", "campaign.completed", "campaign.paused"}
    assert "X-Bulkmail-Signature" in doc["info"]["description"]
    for path, item in doc["paths"].items():
        if not path.startswith(API):
            continue
        for method, op in item.items():
            assert op["security"] == [{"bearerAuth": []}], (method, path)
            assert op["responses"]["401"]["content"] == {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}}
            if method == "post":
                assert "Idempotency-Key" in {p["name"] for p in op["parameters"]}, path
    assert doc["paths"][f"{API}/contacts/bulk"]["post"]["requestBody"]["content"]["application/json"]["example"]

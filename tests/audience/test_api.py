"""The audience JSON API, end to end through the FastAPI app, on both databases."""

import csv
import io
import time
from pathlib import Path

from fastapi.testclient import TestClient

from app.settings import Settings
from tests.audience.conftest import DATA

API = "/api/v1"


def _list(client: TestClient, name: str = "News") -> int:
    r = client.post(f"{API}/lists", json={"name": name, "description": "weekly"})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def _upload(client: TestClient, list_id: int, name: str, content: bytes | None = None, **fields: str):  # type: ignore[no-untyped-def]
    body = content if content is not None else (DATA / name).read_bytes()
    return client.post(f"{API}/lists/{list_id}/imports", files={"file": (name, body)}, data=fields)


def _wait(client: TestClient, import_id: int) -> dict:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        job = client.get(f"{API}/imports/{import_id}").json()
        if job["state"] in ("done", "failed"):
            return job
        time.sleep(0.1)
    raise AssertionError("import did not finish")


def test_lists_crud(client: TestClient) -> None:
    list_id = _list(client)
    r = client.post(f"{API}/lists", json={"name": "News"})
    assert r.status_code == 409 and r.json()["errors"][0]["loc"] == ["body", "name"]
    assert client.post(f"{API}/lists", json={"name": ""}).json()["errors"][0]["loc"] == ["body", "name"]
    r = client.patch(f"{API}/lists/{list_id}", json={"name": "Weekly news"})
    assert r.json()["name"] == "Weekly news"
    assert [x["name"] for x in client.get(f"{API}/lists").json()["items"]] == ["Weekly news"]
    assert client.delete(f"{API}/lists/{list_id}").status_code == 204
    r = client.get(f"{API}/lists/{list_id}")
    assert r.status_code == 404 and "no list with id" in r.json()["errors"][0]["msg"]


def test_upload_report_and_rejects_csv(client: TestClient) -> None:
    list_id = _list(client)
    r = _upload(client, list_id, "plain.csv")
    assert r.status_code == 202, r.text
    job = _wait(client, r.json()["id"])
    assert {k: job[k] for k in ("state", "rows_read", "added", "duplicates", "invalid", "progress")} == {
        "state": "done", "rows_read": 7, "added": 5, "duplicates": 1, "invalid": 1, "progress": 1.0,
    }  # fmt: skip
    assert client.get(f"{API}/lists/{list_id}").json()["member_count"] == 5
    rejects = client.get(job["rejects_csv"])
    assert rejects.headers["content-type"].startswith("text/csv")
    assert list(csv.reader(io.StringIO(rejects.text))) == [
        ["file", "line", "column", "value", "reason"],
        ["plain.csv", "6", "1", "bob@@example.com", '"bob@@example.com" is not a valid address'],
    ]


def test_large_upload_runs_in_the_background(client: TestClient) -> None:
    list_id = _list(client)
    lines = ["email,first_name,city"] + [f"user{i}@example.com,User{i},=cmd|' /C calc'!A0" for i in range(40_000)]
    content = ("\n".join(lines) + "\n").encode()
    assert len(content) > 1024 * 1024
    r = _upload(client, list_id, "big.csv", content)
    assert r.status_code == 202 and r.json()["state"] in ("queued", "running")
    job = _wait(client, r.json()["id"])
    assert (job["state"], job["added"], job["rows_read"]) == ("done", 40_000, 40_000)


def test_upload_over_the_limit_is_refused_with_413(client: TestClient, settings: Settings) -> None:
    list_id = _list(client)
    settings.max_upload_bytes = 10_000  # the app holds this same object
    r = _upload(client, list_id, "big.csv", b"a@example.com\n" * 2000)
    assert r.status_code == 413 and "larger than the limit of 10000 bytes" in r.json()["errors"][0]["msg"]

    def body():  # type: ignore[no-untyped-def]
        # no Content-Length: the stream itself must be cut off
        yield b'--b\r\nContent-Disposition: form-data; name="file"; filename="x.csv"\r\n\r\n'
        for _ in range(100):
            yield b"a@example.com\n" * 100
        yield b"\r\n--b--\r\n"

    r = client.post(
        f"{API}/lists/{list_id}/imports", content=body(), headers={"content-type": "multipart/form-data; boundary=b"}
    )
    assert r.status_code == 413
    assert list(Path(settings.upload_dir).glob("*")) == []  # the partial upload was removed


def test_bad_files_each_get_a_clear_message(client: TestClient) -> None:
    list_id = _list(client)
    expected = {
        "empty.csv": "the file is empty",
        "garbage.bin": "this is not a text file: it looks like binary data",
        "no_address_column.csv": "no address column",
        "header_only.csv": "the file has a header row but no data rows",
    }
    for name, message in expected.items():
        job = _wait(client, _upload(client, list_id, name).json()["id"])
        assert job["state"] == "failed" and message in job["error"], (name, job["error"])
    xlsx = _wait(client, _upload(client, list_id, "book.xlsx", b"PK\x03\x04" + b"\x00" * 100).json()["id"])
    assert "Excel workbook" in xlsx["error"]
    assert client.get(f"{API}/lists/{list_id}").json()["member_count"] == 0


def test_ragged_rows_are_rejected_and_neighbours_kept(client: TestClient) -> None:
    list_id = _list(client)
    job = _wait(client, _upload(client, list_id, "ragged.csv").json()["id"])
    assert (job["added"], job["invalid"]) == (2, 1)
    rejects = client.get(f"{API}/imports/{job['id']}/rejects").json()["items"]
    assert rejects == [
        {
            "line": 3,
            "column": None,
            "value": "bob@example.com,Baker, Bob,Jr",
            "reason": "expected 3 fields, found 4; a value may contain an unquoted comma",
        }
    ]


def test_ten_thousand_copies_of_one_address(client: TestClient) -> None:
    list_id = _list(client)
    content = ("email\n" + "Same@Example.com\n" * 10_000).encode()
    job = _wait(client, _upload(client, list_id, "same.csv", content).json()["id"])
    assert (job["rows_read"], job["added"], job["duplicates"], job["invalid"]) == (10_000, 1, 9_999, 0)


def test_bad_form_fields_name_the_field(client: TestClient) -> None:
    list_id = _list(client)
    r = _upload(client, list_id, "plain.csv", format="xls")
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", "format"]
    r = _upload(client, list_id, "plain.csv", column_mapping="{oops")
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", "column_mapping"]
    r = client.post(f"{API}/lists/{list_id}/imports", data={"format": "csv"})
    assert r.status_code == 422 and r.json()["errors"][0]["loc"][1] == "file"
    r = _upload(client, 999, "plain.csv")
    assert r.status_code == 404
    mapped = _upload(client, list_id, "no_address_column.csv", column_mapping='{"email": "Mail"}').json()
    assert 'column_mapping.email: no column named "Mail"' in _wait(client, mapped["id"])["error"]


def test_cms_push_upserts_by_user_id(client: TestClient) -> None:
    list_id = _list(client, "Website users")
    users = [
        {"external_id": "u1", "email": "Ann@Example.com", "first_name": "Ann", "attributes": {"plan": "pro"}},
        {"external_id": "u2", "email": "ben@example.com"},
        {"external_id": "u3", "email": "bad@@example.com"},
    ]
    r = client.post(f"{API}/contacts/bulk", json={"list_id": list_id, "contacts": users}).json()
    assert (r["added"], r["rejected"]) == (2, 1)
    assert r["results"][2] == {
        "index": 2, "external_id": "u3", "status": "invalid", "contact_id": None,
        "field": "contacts[2].email", "error": '"bad@@example.com" is not a valid address',
    }  # fmt: skip
    ann_id = r["results"][0]["contact_id"]
    # u1 changes address, u2 sends the same data again, u4 tries to take u2's address
    r = client.post(
        f"{API}/contacts/bulk",
        json={
            "list_id": list_id,
            "contacts": [
                {"external_id": "u1", "email": "ann.new@example.com", "attributes": {"seats": 3}},
                {"external_id": "u2", "email": "ben@example.com"},
                {"external_id": "u4", "email": "BEN@example.com"},
            ],
        },
    ).json()
    assert [x["status"] for x in r["results"]] == ["updated", "unchanged", "conflict"]
    assert r["results"][0]["contact_id"] == ann_id
    assert r["results"][2]["error"] == "BEN@example.com is also given at contacts[1]"
    r = client.post(f"{API}/contacts/bulk", json={"contacts": [{"external_id": "u5", "email": "ben@example.COM"}]})
    assert r.json()["results"][0]["error"] == "ben@example.com belongs to CMS user u2"
    assert client.get(f"{API}/lists/{list_id}").json()["member_count"] == 2
    why = client.get(f"{API}/audience/why", params={"address": "ann.new@example.com"}).json()
    assert why["included"] and why["memberships"][0]["source"] == "cms"
    assert client.get(f"{API}/audience/why", params={"address": "ann@example.com"}).json()["reason"] == "not_a_contact"


def test_cms_push_limit_is_10000(client: TestClient) -> None:
    users = [{"external_id": str(i), "email": f"u{i}@example.com"} for i in range(10_001)]
    r = client.post(f"{API}/contacts/bulk", json={"contacts": users})
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", "contacts"]


def test_suppressions_crud_and_csv_export(client: TestClient) -> None:
    r = client.post(f"{API}/suppressions", json={"email": "=evil@example.com", "reason": "complained", "note": "+1"})
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    dup = client.post(f"{API}/suppressions", json={"email": "=EVIL@example.com"})
    assert dup.status_code == 409 and dup.json()["errors"][0]["loc"] == ["body", "email"]
    bad = client.post(f"{API}/suppressions", json={"email": "nope"})
    assert bad.status_code == 422 and "has no @" in bad.json()["errors"][0]["msg"]
    assert client.patch(f"{API}/suppressions/{sid}", json={"reason": "manual"}).json()["reason"] == "manual"
    assert client.get(f"{API}/suppressions", params={"email": "=Evil@example.com"}).json()["items"][0]["id"] == sid
    exported = list(csv.reader(io.StringIO(client.get(f"{API}/suppressions.csv").text)))
    assert exported[1][:4] == ["'=evil@example.com", "manual", "api", "'+1"]  # neutralised in the CSV only
    assert client.get(f"{API}/suppressions/{sid}").json()["email"] == "=evil@example.com"
    assert client.delete(f"{API}/suppressions/{sid}").status_code == 204
    assert client.get(f"{API}/suppressions").json()["items"] == []


def test_preview_and_why(client: TestClient) -> None:
    news, vip = _list(client, "News"), _list(client, "VIP")
    _wait(client, _upload(client, news, "pasted.txt").json()["id"])
    _wait(client, _upload(client, vip, "no_header.csv").json()["id"])
    client.post(f"{API}/suppressions", json={"email": "carol@example.com", "reason": "unsubscribed"})
    counts = client.post(f"{API}/audience/preview", json={"list_ids": [news, vip]}).json()
    assert counts == {
        "sources": {"News": 8, "VIP": 2},
        "segments": {},  # a send to lists alone
        "candidates": 10,
        "duplicates": 2,
        "excluded": {
            "unconfirmed": 0,
            "unsubscribed": 1,
            "unsubscribed_list": 0,
            "bounced": 0,
            "complained": 0,
            "manual": 0,
        },
        "unsubscribed_by_list": {"News": 0, "VIP": 0},
        "excluded_by_list": {},
        "excluded_by_segment": {},
        "included": 7,
        "needs_smtputf8": 0,
    }
    r = client.post(f"{API}/audience/preview", json={"list_ids": [news, 999]})
    assert r.status_code == 422 and r.json()["errors"][0] | {"field": None, "pointer": None} == {
        "field": None, "pointer": None,
        "loc": ["body", "list_ids"], "msg": "no list with id 999", "type": "value_error",
    }  # fmt: skip
    carol = client.get(f"{API}/audience/why", params={"address": "Carol@example.com", "list_id": [news]}).json()
    assert (carol["included"], carol["reason"]) == (False, "unsubscribed")
    assert "pasted.txt" in client.get(f"{API}/audience/why", params={"address": "bob@example.com"}).json()["detail"]


def test_openapi_documents_the_upload(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    body = spec["paths"]["/api/v1/lists/{list_id}/imports"]["post"]["requestBody"]
    assert "file" in body["content"]["multipart/form-data"]["schema"]["properties"]


def test_outlook_export_through_the_api_takes_the_primary_address_unless_asked(client: TestClient) -> None:
    list_id = _list(client)
    job = _wait(client, _upload(client, list_id, "outlook_export.csv").json()["id"])
    assert (job["format"], job["added"], job["duplicates"], job["invalid"]) == ("outlook", 1840, 6, 154)
    assert job["column_mapping"]["email"] == ["E-mail Address"]
    also = _upload(client, list_id, "outlook_export.csv", column_mapping='{"also_email": ["E-mail 2 Address"]}')
    job = _wait(client, also.json()["id"])
    assert (job["added"], job["updated"], job["invalid"]) == (429, 1840, 44)
    empty = _upload(client, list_id, "outlook_export.csv", column_mapping='{"email": "Company"}')
    job = _wait(client, empty.json()["id"])
    assert job["state"] == "failed" and 'no address in the address column ("Company")' in job["error"]
    assert job["rows_read"] == 0

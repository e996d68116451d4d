"""The check on save reports every template's error at once, each at its line."""

from tests.sending.conftest import make_list

PEOPLE = [("ann@x.test", "Ann", {"points": "ten"})]


def test_every_template_error_comes_back_in_one_422_each_with_its_field_and_line(client, session):
    lst = make_list(session, "l", PEOPLE)
    body = {"name": "Spring", "from_address": "news@example.test", "list_ids": [lst.id],
            "subject": "Hi {{ first_name }",  # a syntax error
            "html_template": "<p>\n\n{{ shoe_size }}</p>",  # an unknown variable on line 3
            "text_template": "Hello\n{{ points + 1 }}\n"}  # fails for Ann on line 2  # fmt: skip
    resp = client.post("/api/v1/campaigns", json=body)
    assert resp.status_code == 422
    errors = {tuple(e["loc"]): e["msg"] for e in resp.json()["errors"]}
    assert set(errors) == {("body", "subject"), ("body", "html_template"), ("body", "text_template")}
    assert errors["body", "subject"].startswith("line 1: ")
    assert errors["body", "html_template"].startswith("line 3: unknown variable 'shoe_size'")
    assert errors["body", "text_template"].startswith("line 2: does not render for ann@x.test: ")
    assert "TypeError" not in errors["body", "text_template"]


def test_patch_reports_every_template_error_and_keeps_the_draft_unchanged(client, session):
    lst = make_list(session, "l", PEOPLE)
    body = {"name": "Spring", "from_address": "news@example.test", "list_ids": [lst.id], "subject": "Hi",
            "text_template": "Hello {{ first_name }}"}  # fmt: skip
    cid = client.post("/api/v1/campaigns", json=body).json()["id"]
    resp = client.patch(f"/api/v1/campaigns/{cid}", json={"subject": "{% if %}", "text_template": "{{ nope }}"})
    assert resp.status_code == 422
    assert [e["loc"][1] for e in resp.json()["errors"]] == ["subject", "text_template"]
    assert client.get(f"/api/v1/campaigns/{cid}").json()["subject"] == "Hi"
    ok = client.patch(f"/api/v1/campaigns/{cid}", json={"subject": "Hello {{ first_name }}"})
    assert ok.status_code == 200 and ok.json()["subject"] == "Hello {{ first_name }}"

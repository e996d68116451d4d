"""The template library, layouts, MJML and duplicating a campaign, through the API and as messages come out."""

import email

import pytest
from sqlmodel import Session

from app.models import Campaign
from app.secret_key import get_secret_key
from app.sending import bodies, identities
from app.sending import mjml as mjml_compiler
from app.sending.mjml import MjmlProblem, compile_mjml
from app.sending.sandbox import Limits
from tests.sending.conftest import SIMPLE_HTML, SIMPLE_TEXT, make_list

PEOPLE = [("ann@x.test", "Ann", {"city": "Oslo"}), ("bob@x.test", "Bob", {"city": "Rome"})]
LAYOUT_HTML = '<html><body>\n<header>ACME news</header>\n<main>\n{{ content }}\n</main>\n<footer><a href="{{ view_in_browser_url }}">web</a></footer>\n</body></html>'
MJML = """<mjml>
  <mj-body>
    <mj-section>
      <mj-column>
        <mj-text>Hello {{ first_name }} from {{ city }}</mj-text>
        <mj-button href="{{ unsubscribe_url }}">Unsubscribe</mj-button>
      </mj-column>
    </mj-section>
  </mj-body>
</mjml>"""


def _campaign(list_ids: list[int], **kw) -> dict:  # type: ignore[no-untyped-def]
    body = {"name": "Spring", "from_address": "news@example.test", "subject": "Hi {{ first_name }}",
            "html_template": SIMPLE_HTML, "text_template": SIMPLE_TEXT, "list_ids": list_ids}  # fmt: skip
    body.update(kw)
    return body


def _problem(resp) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    detail = resp.json()["errors"][0]
    return detail["loc"][-1], detail["msg"]


def _html_for_ann(session: Session, settings, engine, campaign_id: int) -> str:  # type: ignore[no-untyped-def]
    campaign = session.get(Campaign, campaign_id)
    assert campaign is not None
    composer = identities.composer(session, campaign, settings, get_secret_key(settings, engine), None)
    session.rollback()  # the reads' transaction ends (on SQLite it would hold the write lock)
    raw = composer.message("ann@x.test", "Ann", None, {"city": "Oslo"}, 1)
    message = email.message_from_bytes(raw)
    return next(p.get_payload(decode=True).decode() for p in message.walk() if p.get_content_type() == "text/html")


def test_a_layout_wraps_the_body_and_a_problem_is_told_at_the_bodys_line(client, session, settings, engine):
    lst = make_list(session, "l", PEOPLE)
    no_slot = client.post("/api/v1/templates", json={"name": "Plain", "kind": "layout", "html_template": "<p>x</p>"})
    assert no_slot.status_code == 422 and _problem(no_slot)[0] == "html_template" and "content" in _problem(no_slot)[1]
    layout = client.post("/api/v1/templates", json={"name": "House", "kind": "layout", "html_template": LAYOUT_HTML})
    assert layout.status_code == 201
    layout_id = layout.json()["id"]
    assert client.post("/api/v1/templates", json={"name": "House", "html_template": "x"}).status_code == 409

    wrong = client.post("/api/v1/campaigns", json=_campaign([lst.id], layout_id=layout_id,
                                                             html_template="<p>Hi</p>\n<p>{{ frist_name }}</p>"))  # fmt: skip
    assert wrong.status_code == 422
    field, message = _problem(wrong)
    assert field == "html_template" and "line 2" in message and "frist_name" in message  # the body's line, not 5

    created = client.post("/api/v1/campaigns", json=_campaign([lst.id], layout_id=layout_id))
    assert created.status_code == 201
    html = _html_for_ann(session, settings, engine, created.json()["id"])
    assert "ACME news" in html and "Hello Ann from Oslo" in html and "/view/" in html

    broken = client.patch(f"/api/v1/templates/{layout_id}", json={"html_template": "{% if %}{{ content }}"})
    assert broken.status_code == 422 and _problem(broken)[0] == "html_template"
    assert client.post(f"/api/v1/campaigns/{created.json()['id']}/launch").status_code == 200
    held = client.patch(f"/api/v1/templates/{layout_id}", json={"html_template": "<div>{{ content }}</div>"})
    assert held.status_code == 409 and "Spring" in held.text  # the sending campaign was checked with it
    assert client.delete(f"/api/v1/templates/{layout_id}").status_code == 409
    assert client.patch(f"/api/v1/templates/{layout_id}", json={"name": "House 2"}).status_code == 200


def test_templates_are_listed_by_name_in_pages_and_removed(client):
    for name in ("b", "a", "c"):
        assert (
            client.post("/api/v1/templates", json={"name": name, "subject": "S", "text_template": "t"}).status_code
            == 201
        )
    first = client.get("/api/v1/templates", params={"limit": 2}).json()
    second = client.get("/api/v1/templates", params={"limit": 2, "cursor": first["next_cursor"]}).json()
    assert [t["name"] for t in first["items"] + second["items"]] == ["a", "b", "c"]
    template_id = first["items"][0]["id"]
    assert client.delete(f"/api/v1/templates/{template_id}").status_code == 204
    assert client.get(f"/api/v1/templates/{template_id}").status_code == 404


def test_mjml_is_compiled_once_per_campaign_and_rendered_per_recipient(client, session, settings, engine, monkeypatch):
    lst = make_list(session, "l", PEOPLE)
    created = client.post("/api/v1/campaigns", json=_campaign([lst.id], template_language="mjml", html_template=MJML))
    assert created.status_code == 201, created.text
    compiles = []
    real = mjml_compiler._helper.run
    monkeypatch.setattr(mjml_compiler._helper, "run", lambda *a: compiles.append(1) or real(*a))
    bodies._compiled.kept.clear()
    campaign = session.get(Campaign, created.json()["id"])
    assert campaign is not None
    composer = identities.composer(session, campaign, settings, get_secret_key(settings, engine), None)
    session.rollback()
    for address, name, city in (("ann@x.test", "Ann", "Oslo"), ("bob@x.test", "Bob", "Rome")):
        message = email.message_from_bytes(composer.message(address, name, None, {"city": city}, 1))
        html = next(p.get_payload(decode=True).decode() for p in message.walk() if p.get_content_type() == "text/html")
        assert f"Hello {name} from {city}" in html and "<table" in html and "<mj-" not in html
    assert len(compiles) == 1


def test_mjml_that_does_not_compile_is_refused_with_its_line(client, session):
    lst = make_list(session, "l", PEOPLE)
    broken = MJML.replace("</mj-column>", "", 1)
    resp = client.post("/api/v1/campaigns", json=_campaign([lst.id], template_language="mjml", html_template=broken))
    assert resp.status_code == 422
    field, message = _problem(resp)
    assert field == "html_template" and "MJML" in message and "line 8" in message, message
    jinja = client.post("/api/v1/campaigns", json=_campaign([lst.id], template_language="mjml",
                                                            html_template=MJML.replace("{{ city }}", "{{ city ")))  # fmt: skip
    assert jinja.status_code == 422 and "line 5" in _problem(jinja)[1]


def test_a_hostile_mjml_document_is_stopped_at_the_time_limit_and_the_next_one_compiles(monkeypatch):
    # 20,000 columns: MRML needs a good fraction of a second, the limit here is 50 ms
    bomb = (
        "<mjml><mj-body><mj-section>"
        + "<mj-column><mj-text>x</mj-text></mj-column>" * 20000
        + "</mj-section></mj-body></mjml>"
    )
    compile_mjml(MJML, Limits())  # the helper is up: its start is not counted
    helper = mjml_compiler._helper.pool
    monkeypatch.setattr(mjml_compiler, "MARGIN_SECONDS", 0.0)
    with pytest.raises(MjmlProblem, match=r"compiling the MJML took longer than 0.05 s"):
        compile_mjml(bomb, Limits(seconds=0.05, max_bytes=10**7))
    assert mjml_compiler._helper.pool is not helper  # the helper busy with it was killed
    assert "<!doctype html>" in compile_mjml(MJML, Limits()).lower()


def test_mjml_nested_past_the_limit_is_refused_with_its_line_before_it_is_compiled():
    deep = "<mjml><mj-body>\n" + "<mj-wrapper>" * 3000 + "</mj-wrapper>" * 3000 + "</mj-body></mjml>"
    with pytest.raises(MjmlProblem, match="nested more than 50 levels deep") as err:
        compile_mjml(deep, Limits())
    assert err.value.line == 2


def test_mjml_past_the_size_limit_is_refused_before_it_is_compiled():
    with pytest.raises(MjmlProblem, match="larger than"):
        compile_mjml(MJML + " " * 2048, Limits(max_bytes=1024))
    with pytest.raises(MjmlProblem, match="include"):  # mj-include reads no file
        compile_mjml('<mjml><mj-body><mj-include path="/etc/passwd"/></mj-body></mjml>', Limits())


def test_a_duplicate_is_a_new_draft_with_the_message_and_audience_but_no_ledger(client, session):
    lst, other = make_list(session, "l", PEOPLE), make_list(session, "not these", [])
    original = client.post("/api/v1/campaigns", json=_campaign([lst.id], headers={"X-Topic": "spring"},
                                                               send_at="2030-01-01T09:00:00Z", tracking="anonymous",
                                                               exclude_list_ids=[other.id])).json()  # fmt: skip
    client.patch(f"/api/v1/campaigns/{original['id']}", json={"send_at": None})
    assert client.post(f"/api/v1/campaigns/{original['id']}/launch").json()["state"] == "sending"
    copy = client.post(f"/api/v1/campaigns/{original['id']}/duplicate")
    assert copy.status_code == 201
    body = copy.json()
    assert body["id"] != original["id"] and body["name"] == "Spring (copy)" and body["state"] == "draft"
    for key in ("subject", "html_template", "text_template", "list_ids", "exclude_list_ids", "segment_ids",
                "headers", "from_address", "layout_id", "tracking"):  # fmt: skip
        assert body[key] == original[key], key
    assert body["audience_counts"] == {} and body["launched_at"] is None and body["send_at"] is None
    assert client.get(f"/api/v1/campaigns/{body['id']}/deliveries").json()["items"] == []
    named = client.post(f"/api/v1/campaigns/{original['id']}/duplicate", json={"name": "Autumn"})
    assert named.json()["name"] == "Autumn"
    assert client.post("/api/v1/campaigns/999999/duplicate").status_code == 404

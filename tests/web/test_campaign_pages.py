"""The compose page, its preview and the campaign page as a marketer reads them: no error before
anything is typed, plain words after a bad submit, the real shape of the unsubscribe link, no raw
template in a heading, and a launch notice that does not outlive the sending."""

import html
import re

import pytest
from pydantic import SecretStr
from sqlmodel import Session, select

from app.models import Campaign, Suppression
from tests.sending.conftest import campaign_state, run_worker_until
from tests.web.conftest import Browser

NOREPLY = "noreply@example.test"


def _list(web: Browser, addresses: str) -> int:
    r = web.post("/lists", {"name": "News"}, follow_redirects=False)
    list_id = int(r.headers["location"].rsplit("/", 1)[1])
    web.post(f"/lists/{list_id}/paste", {"addresses": addresses})
    return list_id


def _fresh_form(page: str) -> dict[str, str]:
    """What the compose form holds as it opens (what its script posts for the first preview)."""
    form = {
        m[0]: html.unescape(m[1])
        for m in re.findall(r'<input id="\w+" name="(\w+)" type="[\w-]+" value="([^"]*)"', page)
    }
    form.update(
        {
            m[0]: html.unescape(m[1])
            for m in re.findall(r'<textarea id="\w+" name="(\w+)"[^>]*>([^<]*)</textarea>', page)
        }
    )
    return form  # fmt: skip


def test_a_fresh_compose_page_shows_no_error_and_a_bad_submit_speaks_plainly(web):
    page = web.get("/campaigns/new").text
    form = _fresh_form(page)
    assert form["name"] == "" and form["subject"] == "" and "{{ unsubscribe_url }}" in form["text_template"]
    preview = web.post("/campaigns/preview", form).text
    assert 'role="alert"' not in preview and 'class="hint"' not in preview and "should have" not in preview
    assert "Hello Ann," in preview  # the body renders for the stand-in contact while name and subject are empty

    r = web.post("/campaigns/new", {**form, "from_address": ""})
    assert r.status_code == 400
    assert 'id="name-error">give the campaign a name<' in r.text
    assert 'id="subject-error">enter a subject line<' in r.text
    assert 'id="from_address-error">enter the address it is sent from<' in r.text
    r = web.post("/campaigns/new", {**form, "name": "x" * 201, "subject": "Hi {{ first_name }}"})
    assert r.status_code == 400 and 'id="name-error">too long: at most 200 characters<' in r.text
    assert "String should" not in r.text and "string_too" not in r.text


def test_the_preview_links_to_unsubscribe_under_the_base_url_and_that_page_changes_nothing(web, anon_client, engine):
    list_id = _list(web, "Ann Lee <ann@example.com>")
    preview = web.post("/campaigns/preview", {"name": "x", "from_address": "news@example.test", "subject": "Hi",
                                              "text_template": "Bye: {{ unsubscribe_url }}", "list_ids": str(list_id)})  # fmt: skip
    assert "Bye: http://testserver/u/preview" in preview.text and "example.com/u" not in preview.text
    page = anon_client.get("/u/preview")  # what a click in the preview opens: no session needed, like a recipient
    assert page.status_code == 200 and 'id="unsubscribe-preview"' in page.text
    assert re.search(r"<button type=\"submit\" disabled>Unsubscribe</button>", page.text)
    with Session(engine) as s:
        assert s.exec(select(Suppression)).all() == []


def test_the_campaign_page_and_list_show_the_name_and_the_subject_as_a_contact_reads_it(web):
    list_id = _list(web, "Ann Lee <ann@example.com>")
    r = web.post("/campaigns/new", {"name": "Spring", "from_address": "news@example.test", "list_ids": str(list_id),
                                    "subject": "Hello {{ first_name }}", "text_template": "Hi"}, follow_redirects=True)  # fmt: skip
    assert "<h1>Spring</h1>" in r.text and 'id="campaign-subject">“Hello Ann”<' in r.text
    listing = web.get("/campaigns").text
    assert ">Spring</a>" in listing
    for text in (r.text, listing):
        assert "{{" not in text and "first_name" not in text


@pytest.mark.mailstack
def test_the_launch_notice_is_gone_once_the_campaign_has_completed(web, mail, settings, engine):
    list_id = _list(web, "alice@example.test\nbob@example.test")
    r = web.post("/campaigns/new", {"name": "Spring", "from_address": NOREPLY, "list_ids": str(list_id),
                                    "subject": "Hi", "text_template": "Hello"}, follow_redirects=False)  # fmt: skip
    campaign_id = int(r.headers["location"].rsplit("/", 1)[1])
    web.get(f"/campaigns/{campaign_id}")
    assert web.post(f"/campaigns/{campaign_id}/launch", follow_redirects=False).status_code == 303
    relay = settings.model_copy(update={
        "smtp_host": mail.host, "smtp_port": mail.submission_port, "smtp_security": "starttls",
        "smtp_cafile": mail.cafile, "smtp_username": NOREPLY, "smtp_password": SecretStr(mail.users[NOREPLY]),
        "worker_poll_seconds": 0.05, "smtp_timeout": 10.0, "bounce_address": NOREPLY,
    })  # fmt: skip
    run_worker_until(relay, engine, lambda: campaign_state(engine, campaign_id) == "completed")
    page = web.get(f"/campaigns/{campaign_id}").text  # the redirect's page, opened after the sending ended
    assert 'id="campaign-state">completed<' in page and 'id="count-sent">2<' in page
    assert "Campaign launched." not in page
    with Session(engine) as s:
        assert s.get(Campaign, campaign_id).launched_at is not None

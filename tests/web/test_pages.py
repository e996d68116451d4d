"""The pages through a TestClient: what a marketer sees after each form, on both databases."""

import re

from sqlmodel import Session, select

from app.config_store import live_settings
from app.models import Campaign, Delivery, ListMember, MailingList, StoredSetting, Suppression
from tests.web.conftest import Browser

CSV = "Name;Mail;Town\nAnn Lee;ann@example.com;Oslo\nBo Ek;bo@example.com;Rome\nCy;not-an-address;Lima\n"


def _list(web: Browser, name: str = "News") -> int:
    r = web.post("/lists", {"name": name}, follow_redirects=False)
    assert r.status_code == 303
    return int(r.headers["location"].rsplit("/", 1)[1])


def _upload(web: Browser, list_id: int, body: str, filename: str = "people.csv"):  # type: ignore[no-untyped-def]
    web.get(f"/lists/{list_id}")
    return web.client.post(f"/lists/{list_id}/upload", data={"csrf_token": web.token, "format": "auto"},
                           files={"file": (filename, body.encode(), "text/csv")}, follow_redirects=True)  # fmt: skip


def test_list_create_rename_delete_with_errors_next_to_the_field(web, engine):
    list_id = _list(web)
    r = web.post("/lists", {"name": "News"})
    assert r.status_code == 400 and 'id="name-error">a list named &#34;News&#34; already exists' in r.text
    r = web.post("/lists", {"name": ""})
    assert r.status_code == 400 and 'id="name-error"' in r.text
    r = web.post(f"/lists/{list_id}/rename", {"name": "Newsletter", "description": "monthly"}, follow_redirects=True)
    assert "<h1>Newsletter</h1>" in r.text
    assert "Delete the list" in web.get(f"/lists/{list_id}/delete").text  # a confirmation first
    r = web.post(f"/lists/{list_id}/delete", follow_redirects=True)
    assert "List &#34;Newsletter&#34; deleted." in r.text
    with Session(engine) as s:
        assert s.exec(select(MailingList)).all() == []


def test_import_wizard_previews_lets_the_mapping_change_and_reports_rejects(web, engine):
    list_id = _list(web)
    r = _upload(web, list_id, CSV)
    assert r.status_code == 200 and 'id="detected-format">csv<' in r.text
    assert "delimiter semicolon" in r.text and "ann@example.com" in r.text
    # the address column was found by its content; the user changes the name column and sees it applied
    assert re.search(
        r'<select id="email" name="email"><option value="1">Name</option><option value="2" selected>', r.text
    )
    r = web.get(f"/lists/{list_id}/import?format=auto&email=2&first_name=3&last_name=&header=yes")
    assert re.search(r"<td>ann@example.com</td><td>Oslo</td>", r.text), "the first name now comes from Town"
    r = web.post(f"/lists/{list_id}/import", {"format": "auto", "email": "2", "header": "yes"}, follow_redirects=True)
    assert r.status_code == 200
    job_id = int(re.search(r"/imports/(\d+)/status", r.text).group(1))
    r = web.get(f"/imports/{job_id}/status")  # the inline import may still run in the background
    for _ in range(100):
        if "data-final" in r.text:
            break
        r = web.get(f"/imports/{job_id}/status")
    assert 'id="import-added">2<' in r.text and 'id="import-invalid">1<' in r.text
    assert "not-an-address" in r.text
    csv = web.get(f"/imports/{job_id}/rejects.csv")
    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.text.splitlines()[0] == "file,line,column,value,reason" and "not-an-address" in csv.text
    with Session(engine) as s:
        assert len(s.exec(select(ListMember).where(ListMember.list_id == list_id)).all()) == 2


def test_an_unusable_file_says_why_before_anything_is_imported(web):
    list_id = _list(web)
    r = _upload(web, list_id, "\x00\x01\x02binary\x00\x00")
    assert 'id="preview-error">this is not a text file' in r.text
    assert re.search(r'<button type="submit" disabled[^>]*>Import</button>', r.text)


def test_pasted_addresses_go_through_the_importer(web):
    list_id = _list(web)
    r = web.post(f"/lists/{list_id}/paste", {"addresses": "Ann <ann@example.com>, bo@example.com\nbroken@"},
                 follow_redirects=True)  # fmt: skip
    assert 'id="import-added">2<' in r.text and 'id="import-invalid">1<' in r.text
    r = web.post(f"/lists/{list_id}/paste", {"addresses": "  "})
    assert r.status_code == 400 and 'id="addresses-error">type or paste at least one address' in r.text


def test_audience_counts_and_why(web, session):
    list_id = _list(web)
    web.post(f"/lists/{list_id}/paste", {"addresses": "ann@example.com\nbo@example.com"})
    web.post("/suppressions", {"email": "bo@example.com", "reason": "manual", "note": "asked by phone"})
    r = web.get(f"/audience?list_id={list_id}&address=bo@example.com")
    assert '<h2 id="counts-h">1 recipient</h2>' in r.text  # singular for one
    assert re.search(r"<td>manual</td><td class=\"num\">1</td>", r.text)
    assert "excluded: manual" in r.text and "asked by phone" in r.text
    r = web.get("/audience?list_id=999")
    assert 'id="list_id-error">no list with id 999' in r.text


def _compose(web: Browser, list_id: int, **changes: str):  # type: ignore[no-untyped-def]
    form = {"name": "Spring", "from_address": "news@example.test", "subject": "Hi {{ first_name }}",
            "html_template": "", "text_template": "Hello {{ first_name }}", "list_ids": str(list_id)}  # fmt: skip
    return web.post("/campaigns/new", {**form, **changes}, follow_redirects=False)


def test_compose_shows_template_errors_at_their_line_and_previews_for_a_real_contact(web):
    list_id = _list(web)
    web.post(f"/lists/{list_id}/paste", {"addresses": "Ann Lee <ann@example.com>"})
    r = _compose(web, list_id, text_template="Hello\n{{ first_name }\n")
    assert r.status_code == 400 and re.search(r'id="text_template-error">line 2: ', r.text)
    r = _compose(web, list_id, from_address="not an address")
    assert r.status_code == 400 and 'id="from_address-error"' in r.text
    r = _compose(web, list_id, html_template="<p>{{ shoe_size }}</p>")
    assert "unknown variable &#39;shoe_size&#39;" in r.text
    preview = web.post("/campaigns/preview", {"name": "x", "from_address": "news@example.test", "subject": "Hi {{ first_name }}",
                                              "text_template": "Dear {{ first_name }} {{ last_name }}", "list_ids": str(list_id)})  # fmt: skip
    assert 'id="preview-subject">Hi Ann<' in preview.text and "Dear Ann Lee" in preview.text


def test_campaign_life_cycle_from_the_campaign_page(web, engine):
    list_id = _list(web)
    web.post(f"/lists/{list_id}/paste", {"addresses": "ann@example.com\nbo@example.com"})
    r = _compose(web, list_id)
    campaign_id = int(r.headers["location"].rsplit("/", 1)[1])
    r = web.post(f"/campaigns/{campaign_id}/pause", follow_redirects=True)
    assert "Not done: only a sending campaign can be paused; this campaign is draft" in r.text
    r = web.post(f"/campaigns/{campaign_id}/launch", follow_redirects=True)
    assert "Campaign launched." in r.text and 'id="count-remaining">2<' in r.text
    r = web.post(f"/campaigns/{campaign_id}/pause", follow_redirects=True)
    assert 'id="campaign-state">paused<' in r.text
    r = web.post(f"/campaigns/{campaign_id}/resume", follow_redirects=True)
    assert 'id="campaign-state">sending<' in r.text
    r = web.get(f"/campaigns/{campaign_id}?email=bo@")
    assert "bo@example.com" in r.text and "not tried yet" in r.text and "ann@example.com" not in r.text
    r = web.post(f"/campaigns/{campaign_id}/cancel", follow_redirects=True)
    assert 'id="campaign-state">cancelled<' in r.text
    with Session(engine) as s:
        assert {d.state for d in s.exec(select(Delivery))} == {"cancelled"}


def test_scheduled_campaign_and_a_test_send_with_a_bad_address(web, engine):
    list_id = _list(web)
    web.post(f"/lists/{list_id}/paste", {"addresses": "ann@example.com"})
    r = _compose(web, list_id, send_at="2099-01-01T09:00")
    campaign_id = int(r.headers["location"].rsplit("/", 1)[1])
    r = web.post(f"/campaigns/{campaign_id}/launch", follow_redirects=True)
    assert "Campaign scheduled." in r.text
    with Session(engine) as s:
        assert s.get(Campaign, campaign_id).state == "scheduled"
    r = web.post(f"/campaigns/{campaign_id}/test", {"to": "ann@example.com, nope@"}, follow_redirects=True)
    assert re.search(r'id="to-error">.*nope@', r.text)


def test_suppressions_add_search_remove_and_export(web, engine):
    r = web.post(
        "/suppressions", {"email": "Ann@Example.com", "reason": "manual", "note": "called"}, follow_redirects=True
    )
    assert "ann@example.com is suppressed (manual)." in r.text.lower()
    r = web.post("/suppressions", {"email": "ann@example.com", "reason": "manual"})
    assert r.status_code == 400 and "is already suppressed" in r.text
    r = web.post("/suppressions", {"email": "x@", "reason": "manual"})
    assert r.status_code == 400 and 'id="email-error"' in r.text
    r = web.post("/suppressions", {"email": "z@example.com", "reason": "angry"})
    assert r.status_code == 400 and "Input should be" in r.text
    web.post("/suppressions", {"email": "=cmd@example.com", "reason": "complained"})
    assert "=cmd@example.com" not in web.get("/suppressions?q=ann").text
    csv = web.get("/suppressions.csv").text
    assert "'=cmd@example.com" in csv, "a formula-like cell is defused"
    with Session(engine) as s:
        sid = s.exec(select(Suppression.id).where(Suppression.email == "Ann@example.com")).one()
    assert "Mail Ann@example.com again?" in web.get(f"/suppressions/{sid}/remove").text
    r = web.post(f"/suppressions/{sid}/remove", follow_redirects=True)
    assert "is no longer suppressed" in r.text


def test_settings_validate_next_to_the_field_keep_secrets_write_only_and_take_effect(web, settings, engine):
    r = web.post("/settings", {"smtp_port": "seventy", "hard_bounce_threshold": "0", "action": "save"})
    assert r.status_code == 400
    assert 'id="smtp_port-error">Input should be a valid integer' in r.text
    assert 'id="hard_bounce_threshold-error">must be between 1 and 100' in r.text
    r = web.post("/settings", {"smtp_host": "relay.example.test", "smtp_port": "2525", "smtp_password": "s3cret-pw",
                               "soft_bounce_threshold": "5", "action": "save"}, follow_redirects=True)  # fmt: skip
    assert "Settings saved" in r.text and "s3cret-pw" not in r.text and "Saved; leave empty to keep it." in r.text
    live = live_settings(settings, engine)
    assert (live.smtp_host, live.smtp_port, live.soft_bounce_threshold) == ("relay.example.test", 2525, 5)
    assert live.smtp_password.get_secret_value() == "s3cret-pw"
    # an empty password field keeps the saved one
    web.post("/settings", {"smtp_password": "", "smtp_port": "2526", "action": "save"})
    assert live_settings(settings, engine).smtp_password.get_secret_value() == "s3cret-pw"
    with Session(engine) as s:
        assert s.get(StoredSetting, "smtp_password").value == "s3cret-pw"


def test_relay_check_shows_the_specific_error(web):
    r = web.post(
        "/settings", {"smtp_host": "127.0.0.1", "smtp_port": "9", "smtp_security": "none", "action": "test_relay"}
    )
    assert (
        'id="relay-check"' in r.text
        and "Connection failed:" in r.text
        and "connection to 127.0.0.1:9 refused" in r.text
    )
    r = web.post("/settings", {"mailbox_host": "", "action": "test_mailbox"})
    assert 'id="mailbox-check"' in r.text and "Connection failed:" in r.text


def test_dashboard_shows_a_campaign_paused_by_an_error(web, engine):
    with Session(engine) as s:
        s.add(Campaign(name="Broken", from_address="a@example.test", subject="x", text_template="x", state="paused",
                       paused_reason="relay auth error: 535 authentication failed"))  # fmt: skip
        s.commit()
    r = web.get("/")
    assert "Broken</a> is paused:</strong> relay auth error: 535 authentication failed" in r.text


def test_api_keys_are_created_shown_once_used_and_revoked_on_the_settings_page(web, anon_client, engine):
    assert web.post("/settings/api-keys", {"name": " ", "scope": "write"}).status_code == 400
    r = web.post("/settings/api-keys", {"name": "CMS", "scope": "write"})
    key = re.search(r'<code id="new-key">([^<]+)</code>', r.text).group(1)
    assert "shown only once" in r.text
    page = web.get("/settings/api-keys").text
    assert key not in page and "CMS" in page and "never" in page
    auth = {"Authorization": f"Bearer {key}"}
    assert anon_client.get("/api/v1/lists", headers=auth).status_code == 200
    key_id = re.search(r'action="/settings/api-keys/(\d+)/revoke"', page).group(1)
    r = web.post(f"/settings/api-keys/{key_id}/revoke", follow_redirects=True)
    assert "revoked" in r.text
    assert anon_client.get("/api/v1/lists", headers=auth).status_code == 401


def test_bounce_filters_keep_what_was_typed_and_name_what_is_wrong(web):
    r = web.get("/bounces?kind=bounce&campaign=abc&since=2026-13-01&until=2026-12-31")
    assert r.status_code == 200
    assert 'id="campaign-error">choose a campaign' in r.text
    assert 'id="since-error">enter a date as YYYY-MM-DD' in r.text
    assert "until-error" not in r.text
    assert 'value="2026-13-01"' in r.text and 'value="2026-12-31"' in r.text
    assert "<option selected>bounce</option>" in r.text

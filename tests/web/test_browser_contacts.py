"""The contacts pages in a real browser (Debian's Chromium, headless) against a live server: a marketer
searches for a contact, opens it, gets an error for a bad custom field value, corrects it and saves,
and sees the edit in the contact's consent history."""

import re
import shutil
from pathlib import Path

import pytest
from sqlmodel import Session

from app.audience import fields
from app.audience.cms import CmsUser, upsert_users
from app.models import MailingList, utcnow
from tests.support.browser import chromium, live_server
from tests.support.network import free_port
from tests.web.conftest import EMAIL, PASSWORD, make_user

pytestmark = [pytest.mark.browser]

if not Path("/usr/bin/chromium").exists() or shutil.which("chromium") is None:  # pragma: no cover
    pytest.skip("Chromium is not installed (scripts/test installs it)", allow_module_level=True)

from playwright.sync_api import expect  # noqa: E402


def test_search_open_and_edit_a_contact(settings, engine, tmp_path):  # type: ignore[no-untyped-def]
    make_user(engine)
    with Session(engine) as s:
        news = MailingList(name="News")
        s.add(news)
        s.flush()
        fields.define(s, "employees", "Employees", "number")
        people = [CmsUser(str(i), f"person{i}@example.com", f"P{i}", "Doe") for i in range(30)]
        people.append(CmsUser("ann", "ann@example.org", "Ann", "Lee", {"company": "Acme Widgets"}))
        upsert_users(s, people, news.id, utcnow())
        s.commit()
    port = free_port()
    server = settings.model_copy(update={"base_url": f"http://127.0.0.1:{port}", "upload_dir": str(tmp_path)})
    with live_server(server, port) as base, chromium() as browser:
        page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        page.set_default_timeout(20_000)
        page.goto(f"{base}/contacts")
        expect(page).to_have_url(re.compile(r"/login\?next=%2Fcontacts$"))
        page.get_by_label("E-mail address").fill(EMAIL)
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page).to_have_url(f"{base}/contacts")

        page.get_by_label("Address, name or attribute contains").fill("widgets")
        page.get_by_role("button", name="Search").click()
        rows = page.locator("#contacts tbody tr")
        expect(rows).to_have_count(1)
        page.get_by_role("link", name="ann@example.org").click()
        expect(page.get_by_role("heading", level=1)).to_contain_text("ann@example.org")

        page.get_by_label("First name").fill("Anne")
        page.get_by_label("Employees").fill("a few")
        page.get_by_role("button", name="Save").click()
        expect(page.locator("#field_employees-error")).to_contain_text('expected a number, not "a few"')
        expect(page.get_by_label("First name")).to_have_value("Anne")  # what was typed stays
        page.get_by_label("Employees").fill("12")
        page.get_by_role("button", name="Save").click()
        expect(page.locator(".notice")).to_contain_text("Saved: employees, first_name.")
        expect(page.get_by_label("Employees")).to_have_value("12")
        history = page.locator("#consent tbody tr").first
        expect(history).to_contain_text("edit (employees, first_name)")
        expect(history).to_contain_text(f"user {EMAIL}")

        page.goto(f"{base}/contacts?q=anne")
        expect(page.locator("#contacts tbody tr")).to_have_count(1)
        expect(page.locator("#contacts")).to_contain_text("Anne Lee")

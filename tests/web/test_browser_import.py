"""A marketer's first import of an Outlook export, and the long pages after it, in a real browser
(Debian's Chromium, headless) against a live server: the wizard picks the primary address column,
refuses a mapping without addresses, imports the second addresses only when ticked, and no page is
wider than the window or grows with the number of rows."""

import re
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert
from sqlmodel import Session

from app.models import Bounce, utcnow
from tests.audience.conftest import DATA
from tests.support.browser import chromium, live_server
from tests.support.network import free_port
from tests.web.conftest import EMAIL, PASSWORD, make_user

pytestmark = [pytest.mark.browser]

if not Path("/usr/bin/chromium").exists() or shutil.which("chromium") is None:  # pragma: no cover
    pytest.skip("Chromium is not installed (scripts/test installs it)", allow_module_level=True)

from playwright.sync_api import Page, expect  # noqa: E402

WIDTH = 1280
PAGE_WIDTH = "document.documentElement.scrollWidth"
PAGE_HEIGHT = "document.documentElement.scrollHeight"


def _sign_in(page: Page, base: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("E-mail address").fill(EMAIL)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{base}/")


def test_outlook_import_and_long_lists_stay_within_the_window(settings, engine, tmp_path):
    make_user(engine)
    with Session(engine) as s:
        s.execute(insert(Bounce), [{"kind": "bounce", "reason": "userunknown", "hard": True,
                                    "email": f"gone{i}@example.test", "email_key": f"gone{i}@example.test",
                                    "diagnostic": "5.1.1 unknown user", "created_at": utcnow() - timedelta(minutes=i)}
                                   for i in range(1832)])  # fmt: skip
        s.commit()
    port = free_port()
    server = settings.model_copy(update={"base_url": f"http://127.0.0.1:{port}", "upload_dir": str(tmp_path / "up")})
    with live_server(server, port) as base, chromium() as browser:
        page = browser.new_context(viewport={"width": WIDTH, "height": 900}).new_page()
        page.set_default_timeout(20_000)
        _sign_in(page, base)
        page.goto(f"{base}/lists")
        page.get_by_label("Name", exact=True).fill("Outlook contacts")
        page.get_by_role("button", name="Create list").click()
        page.get_by_label("File", exact=True).set_input_files(str(DATA / "outlook_export.csv"))
        page.get_by_role("button", name="Upload and preview").click()

        # the 92-column table scrolls inside its own box; the primary address column is pre-selected
        expect(page.locator("#detected-format")).to_have_text("outlook")
        print(f"measured: the preview of the Outlook export is {page.evaluate(PAGE_WIDTH)} px wide")
        assert page.evaluate(PAGE_WIDTH) <= WIDTH, f"the preview is {page.evaluate(PAGE_WIDTH)} px wide"
        expect(page.get_by_label("Address column").locator("option:checked")).to_have_text("E-mail Address")
        box = page.locator("#preview-table").locator("xpath=..")
        assert box.evaluate("b => b.scrollWidth > b.clientWidth"), "the table scrolls inside its box"
        expect(page.locator("#preview-table tbody tr")).to_have_count(5)

        # a column without addresses: Import is off and the page says why, in plain words
        page.get_by_label("Address column").select_option(label="Company")
        page.get_by_role("button", name="Update the preview").click()
        expect(page.locator("#preview-error")).to_contain_text("holds no e-mail addresses")
        expect(page.get_by_role("button", name="Import", exact=True)).to_be_disabled()

        # the primary column again, and the second addresses as contacts of their own, explicitly
        page.get_by_label("Address column").select_option(label="E-mail Address")
        page.get_by_label("also import “E-mail 2 Address” as separate contacts").check()
        page.get_by_role("button", name="Update the preview").click()
        expect(page.get_by_label("also import “E-mail 2 Address” as separate contacts")).to_be_checked()
        page.get_by_role("button", name="Import", exact=True).click()
        expect(page.locator("#import-state")).to_have_text("done", timeout=60_000)
        expect(page.locator("#import-added")).to_have_text(str(1840 + 429))
        expect(page.locator("#import-invalid")).to_have_text("44")
        expect(page.locator("#rejects tbody tr")).to_have_count(44)
        assert page.evaluate(PAGE_WIDTH) <= WIDTH, f"the report is {page.evaluate(PAGE_WIDTH)} px wide"

        # 1,832 bounces: one page of them, and "next" keeps the filter
        page.goto(f"{base}/bounces?kind=bounce")
        expect(page.locator("#bounces tbody tr")).to_have_count(50)
        height = page.evaluate(PAGE_HEIGHT)
        page.get_by_role("link", name="Next page →").first.click()
        expect(page).to_have_url(re.compile(r"kind=bounce.*cursor="))
        expect(page.locator("#bounces tbody tr").first).to_contain_text("gone50@example.test")
        assert page.evaluate(PAGE_WIDTH) <= WIDTH
        print(f"measured: /bounces with 1,832 bounces is {height} px high")
        assert height < 8000, f"/bounces is {height} px high"

"""Users in a real browser (Debian's Chromium) against a live server: setting up two-factor sign-in by the
QR page and signing in with an authenticator's code; and an administrator in one browser deactivating a
user who is signed in in another, whose next click lands on the sign-in page."""

import re
import shutil
import time
from pathlib import Path

import pyotp
import pytest

from tests.support.browser import chromium, live_server
from tests.support.network import free_port
from tests.users.support import PASSWORD, make_user_of

pytestmark = pytest.mark.browser

if not Path("/usr/bin/chromium").exists() or shutil.which("chromium") is None:  # pragma: no cover
    pytest.skip("Chromium is not installed (scripts/test installs it)", allow_module_level=True)

from playwright.sync_api import Page, expect  # noqa: E402


def _sign_in(page: Page, base: str, email: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_two_factor_enrolment_and_sign_in_with_an_authenticator_code(settings, engine) -> None:
    make_user_of(engine, "admin")
    make_user_of(engine, "marketer")
    port = free_port()
    live = settings.model_copy(update={"base_url": f"http://127.0.0.1:{port}"})
    with live_server(live, port) as base, chromium() as browser:
        admin = browser.new_context().new_page()
        admin.set_default_timeout(20_000)
        _sign_in(admin, base, "admin@example.test")
        admin.goto(f"{base}/users")
        admin.get_by_label("marketer", exact=True).check()
        admin.get_by_role("button", name="Save").click()
        expect(admin.locator(".notice")).to_contain_text("required of: marketer")

        page = browser.new_context().new_page()
        page.set_default_timeout(20_000)
        _sign_in(page, base, "marketer@example.test")
        expect(page).to_have_url(f"{base}/login/enrol")
        expect(page.locator("#qr svg")).to_be_visible()
        secret = page.locator("#totp-secret").inner_text()
        page.get_by_label("Code from the app").fill(pyotp.TOTP(secret).now())
        page.get_by_role("button", name="Turn on").click()
        expect(page.locator("#recovery-codes li")).to_have_count(10)
        page.get_by_role("link", name="Continue").click()
        expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()

        page.get_by_role("button", name="Sign out").click()
        expect(page).to_have_url(re.compile(r"/login$"))
        _sign_in(page, base, "marketer@example.test")
        expect(page).to_have_url(f"{base}/login/code")
        page.get_by_label("Code").fill(pyotp.TOTP(secret).at(time.time() + 30))  # the code just used works once
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
        expect(page.get_by_role("link", name="Settings")).to_have_count(0)  # a marketer's menu


def test_deactivating_a_user_in_one_browser_signs_them_out_in_another(settings, engine) -> None:
    make_user_of(engine, "admin")
    make_user_of(engine, "marketer")
    port = free_port()
    live = settings.model_copy(update={"base_url": f"http://127.0.0.1:{port}"})
    with live_server(live, port) as base, chromium() as browser:
        marketer = browser.new_context().new_page()
        marketer.set_default_timeout(20_000)
        _sign_in(marketer, base, "marketer@example.test")
        marketer.goto(f"{base}/lists")
        expect(marketer.get_by_role("heading", name="Lists")).to_be_visible()

        admin = browser.new_context().new_page()
        admin.set_default_timeout(20_000)
        _sign_in(admin, base, "admin@example.test")
        admin.goto(f"{base}/users")
        admin.locator('tr[data-user="marketer@example.test"]').get_by_role("button", name="Deactivate").click()
        expect(admin.locator(".notice")).to_contain_text("deactivated and signed out everywhere")

        marketer.get_by_role("link", name="Campaigns").click()
        expect(marketer).to_have_url(re.compile(r"/login\?next=%2Fcampaigns$"))
        _sign_in(marketer, base, "marketer@example.test")
        expect(marketer.locator("#password-error")).to_contain_text("deactivated")

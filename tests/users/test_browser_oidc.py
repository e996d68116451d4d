"""Sign-in through the organisation's identity provider in a real browser (Debian's Chromium): from bulkmail's
login page to the provider's own login form (oidc-provider on loopback) and back, with the role the groups
claim maps to; a change of groups at the provider applies at the next sign-in, and a user left with no
mapped group is refused."""

import re
import shutil
from pathlib import Path

import pytest

from app.settings import Settings
from tests.support.browser import chromium, live_server
from tests.support.oidc_provider import OidcProvider
from tests.users.conftest import with_provider

pytestmark = pytest.mark.browser

if not Path("/usr/bin/chromium").exists() or shutil.which("chromium") is None:  # pragma: no cover
    pytest.skip("Chromium is not installed (scripts/test installs it)", allow_module_level=True)

from playwright.sync_api import Page, expect  # noqa: E402

ALICE_PASSWORD = "alice at the provider"


def _through_the_provider(page: Page, base: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_role("link", name="Sign in with Example Org").click()


def test_signing_in_through_the_provider_gives_the_role_of_the_groups_at_each_sign_in(
    settings: Settings, provider: OidcProvider
) -> None:
    provider.set_user("alice", ALICE_PASSWORD, email="alice@example.test", email_verified=True, groups=["marketing"])
    port = provider.live_port
    live = with_provider(settings, provider, base_url=f"http://127.0.0.1:{port}")
    with live_server(live, port) as base, chromium() as browser:
        page = browser.new_context().new_page()
        page.set_default_timeout(20_000)
        _through_the_provider(page, base)
        expect(page.get_by_role("heading", name="Example Org sign-in")).to_be_visible()
        assert page.url.startswith(provider.issuer)
        page.get_by_label("Username").fill("alice")
        page.get_by_label("Password").fill("not her password")
        page.get_by_role("button", name="Continue").click()
        expect(page.get_by_role("alert")).to_have_text("Wrong username or password.")
        page.get_by_label("Username").fill("alice")
        page.get_by_label("Password").fill(ALICE_PASSWORD)
        page.get_by_role("button", name="Continue").click()
        expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
        assert page.url == f"{base}/"
        expect(page.get_by_role("link", name="Lists")).to_be_visible()
        expect(page.get_by_role("link", name="Settings")).to_have_count(0)  # a marketer's menu

        # made an administrator at the provider: so in bulkmail from her next sign-in (the provider still
        # knows her browser, so it asks for no password)
        provider.set_user("alice", ALICE_PASSWORD, email="alice@example.test", email_verified=True,
                          groups=["marketing", "bulkmail-admins"])  # fmt: skip
        page.get_by_role("button", name="Sign out").click()
        expect(page).to_have_url(re.compile(r"/login$"))
        _through_the_provider(page, base)
        expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
        expect(page.get_by_role("link", name="Settings")).to_be_visible()

        # out of every bulkmail group: refused, with a page that says why
        provider.set_user("alice", ALICE_PASSWORD, email="alice@example.test", email_verified=True, groups=["staff"])
        page.get_by_role("button", name="Sign out").click()
        _through_the_provider(page, base)
        expect(page.get_by_role("heading", name="Sign-in refused")).to_be_visible()
        expect(page.locator("#sign-in-problem")).to_contain_text("has no role in bulkmail")
        page.goto(f"{base}/lists")
        expect(page).to_have_url(re.compile(r"/login\?next="))

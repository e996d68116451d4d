"""The API documentation (/docs, /redoc) works on a host without Internet access: every script, style
and icon comes from bulkmail itself, and a real browser that may reach nothing but the server renders
the operations."""

import re
import shutil
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from tests.support.browser import chromium, live_server
from tests.support.network import free_port

# every URL the page names: attributes and string literals in its inline script
_URL = re.compile(r"""(?:src|href|url|spec-url)\s*[=:]\s*["']([^"']+)["']""")


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_docs_pages_name_no_outside_host_and_their_assets_are_served(anon_client: TestClient, page: str):
    r = anon_client.get(page)
    assert r.status_code == 200
    assert not re.search(r"(?:https?:)?//[a-z0-9.-]+", r.text, re.I), "no absolute URL in the page"
    urls = _URL.findall(r.text)
    assert "/openapi.json" in urls and len(urls) >= 3, urls
    for url in urls:
        assert not urlsplit(url).netloc, url
        asset = anon_client.get(url)
        assert asset.status_code == 200 and len(asset.content) > 100, url


@pytest.mark.browser
def test_swagger_ui_renders_the_operations_with_no_network_but_the_server(settings, engine):
    if shutil.which("chromium") is None or not Path("/usr/bin/chromium").exists():  # pragma: no cover
        pytest.skip("Chromium is not installed (scripts/test installs it)")
    port = free_port()
    outside: list[str] = []
    with live_server(settings, port) as base, chromium() as browser:
        page = browser.new_page()

        def only_the_server(route):  # type: ignore[no-untyped-def]
            if route.request.url.startswith(base + "/"):
                route.continue_()
            else:  # an offline host: anything else fails, and is counted
                outside.append(route.request.url)
                route.abort()

        page.route("**/*", only_the_server)
        page.goto(f"{base}/docs")
        page.locator(".opblock").first.wait_for(timeout=20_000)
        assert page.locator(".opblock").count() > 20
        assert page.locator(".opblock-summary-path", has_text="/api/v1/campaigns/{campaign_id}/launch").count() == 1
        assert outside == []

"""Segments in a real browser (Debian's Chromium, headless) against a live server: a marketer builds a
segment row by row, previews its count, saves it, launches a campaign to it (the ledger then holds
exactly the matching contacts) and asks why an address is out."""

import re
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlmodel import Session, col

from app.audience import fields
from app.audience.cms import CmsUser, upsert_users
from app.models import Bounce, Campaign, Delivery, MailingList, Segment, utcnow
from tests.support.browser import chromium, live_server
from tests.support.network import free_port
from tests.web.conftest import EMAIL, PASSWORD, make_user

pytestmark = [pytest.mark.browser]

if not Path("/usr/bin/chromium").exists() or shutil.which("chromium") is None:  # pragma: no cover
    pytest.skip("Chromium is not installed (scripts/test installs it)", allow_module_level=True)

from playwright.sync_api import expect  # noqa: E402

PEOPLE = [
    ("ann@example.de", {"country": "DE", "score": 80}),
    ("ben@example.de", {"country": "DE", "score": 20}),
    ("carl@example.de", {"country": "DE", "score": 90}),  # bounced hard
    ("eve@example.de", {"country": "DE", "score": 60}),
    ("dora@example.at", {"country": "AT", "score": 99}),
]


def test_build_preview_launch_and_explain(settings, engine, tmp_path):  # type: ignore[no-untyped-def]
    make_user(engine)
    with Session(engine) as s:
        news = MailingList(name="News")
        s.add(news)
        s.flush()
        fields.define(s, "country", "Country", "text")
        fields.define(s, "score", "Score", "number")
        upsert_users(s, [CmsUser(e, e, e.split("@")[0].title(), "Doe", a) for e, a in PEOPLE], news.id, utcnow())
        old = Campaign(name="Winter", from_address="news@example.test", subject="Winter", state="completed")
        s.add(old)
        s.flush()
        s.add(Bounce(kind="bounce", reason="user_unknown", hard=True, email="carl@example.de",
                     email_key="carl@example.de", campaign_id=old.id, attribution="verp",
                     created_at=utcnow() - timedelta(days=3)))  # fmt: skip
        s.commit()
        old_id = old.id
    port = free_port()
    server = settings.model_copy(
        update={"base_url": f"http://127.0.0.1:{port}", "upload_dir": str(tmp_path), "embedded_worker": False}
    )
    with live_server(server, port) as base, chromium() as browser:
        page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        page.set_default_timeout(20_000)
        page.goto(f"{base}/segments/new")
        page.get_by_label("E-mail address").fill(EMAIL)
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page).to_have_url(f"{base}/segments/new")

        # the builder starts from the condition in the box: one row, country = 'DE'
        rows = page.locator("#builder .row")
        expect(rows).to_have_count(1)
        expect(rows.nth(0).get_by_label("value")).to_have_value("DE")
        builder = page.locator("#builder")
        builder.get_by_role("button", name="+ condition").first.click()
        second = rows.nth(1)
        second.get_by_label("field").select_option("score")
        second.get_by_label("operator").select_option(">=")
        second.get_by_label("value").fill("50")
        builder.get_by_role("button", name="+ group").first.click()
        group = page.locator("#builder .group .group")
        group.locator(".g-not").check()
        group.locator(".row").get_by_label("field").select_option("bounced")
        group.locator(".row").get_by_label("value").fill("hard")
        expression = page.get_by_label("Condition")
        expect(expression).to_have_value("country = 'DE' and score >= 50 and not (bounced hard)")

        page.get_by_label("Name", exact=True).fill("Quiet Germans")
        page.get_by_role("button", name="Preview the count").click()
        expect(page.locator("#preview h2")).to_have_text("2 contacts match now")
        expect(page.locator("#preview-sample li")).to_have_text(["ann@example.de", "eve@example.de"])
        # the canonical expression comes back, drawn again in the builder: three rows, the last under "not"
        expect(expression).to_have_value("country = 'DE' and score >= 50 and not bounced hard")
        expect(rows).to_have_count(3)
        expect(page.locator("#builder .group .group .g-not")).to_be_checked()

        # a typing error in the box names its place; nothing typed is lost
        expression.fill("country = 'DE' and score >= 'lots'")
        page.get_by_role("button", name="Preview the count").click()
        expect(page.locator("#expression-error")).to_have_text(
            "line 1, column 29: expected a number, found the text 'lots'"
        )
        expect(page.get_by_label("Name", exact=True)).to_have_value("Quiet Germans")
        expression.fill("country = 'DE' and score >= 50 and not bounced hard")
        page.get_by_role("button", name="Save the segment").click()
        expect(page.locator(".notice")).to_have_text("Segment Quiet Germans saved.")

        # a campaign to the segment, launched: the ledger holds exactly its contacts
        page.goto(f"{base}/campaigns/new")
        page.get_by_label("Campaign name").fill("Quiet Germans")
        page.locator("#segment_ids").get_by_label("Quiet Germans").check()
        page.get_by_label("Subject", exact=True).fill("Hallo {{ first_name }}")
        page.get_by_label("Text body").fill("Hallo {{ first_name }}\n{{ unsubscribe_url }}")
        page.get_by_role("button", name="Save draft").click()
        expect(page.locator("#campaign-state")).to_have_text("draft")
        page.get_by_role("button", name="Launch").click()
        expect(page.locator(".notice")).to_have_text("Campaign launched.")
        campaign_id = int(re.search(r"/campaigns/(\d+)", page.url).group(1))  # type: ignore[union-attr]
        with Session(engine) as s:
            ledger = s.execute(select(col(Delivery.email)).where(col(Delivery.campaign_id) == campaign_id)).scalars()
            assert sorted(ledger) == ["ann@example.de", "eve@example.de"]

        # the audience page: News less the segment, and why carl and ann are out
        page.goto(f"{base}/audience")
        page.locator("#list_id-choices").get_by_label("News").check()
        page.locator("#exclude_segment_id-choices").get_by_label("Quiet Germans").check()
        page.get_by_label("Why is this address in or out?").fill("ann@example.de")
        page.get_by_role("button", name="Show").click()
        expect(page.locator("#verdict p")).to_have_text(
            "excluded: in the excluded segment 'Quiet Germans': country = 'DE' is true, it is 'DE'; "
            "score >= 50 is true, it is 80; bounced hard is false, no such event"
        )
        expect(page.locator('tr[data-excluded-by="segment Quiet Germans"] td.num')).to_have_text("2")
        page.get_by_label("Why is this address in or out?").fill("carl@example.de")
        page.get_by_role("button", name="Show").click()
        day = f"{utcnow() - timedelta(days=3):%Y-%m-%d}"
        expect(page.locator("#verdict p")).to_have_text(
            f"excluded: bounced, 1 hard bounce since the last clean send (threshold 1); latest {day} on campaign {old_id}"
        )
        with Session(engine) as s:
            segment_id = s.execute(select(col(Segment.id)).where(col(Segment.name) == "Quiet Germans")).scalar_one()
        page.goto(f"{base}/audience?segment_id={segment_id}&address=carl@example.de")
        expect(page.locator("#verdict p")).to_have_text(
            "not in segment 'Quiet Germans': bounced hard is true, "
            f"bounced hard {day} on campaign {old_id} (user_unknown)"
        )

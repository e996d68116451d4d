"""The preference page in a real browser (Debian's Chromium, headless) against a live server: a contact
on two lists leaves one, corrects a field (after a refused value), unsubscribes from everything; each
change is in their consent ledger with the page, IP and browser; a tampered or expired link is refused
with a page that says so."""

import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlmodel import Session

from app.audience import fields
from app.audience.compile import compile_audience
from app.audience.why import why
from app.models import ConsentEvent, Contact, MailingList, utcnow
from app.secret_key import get_secret_key
from app.subscription import preferences
from tests.audience.support import add_contacts
from tests.support.browser import chromium, live_server
from tests.support.network import free_port

pytestmark = [pytest.mark.browser]

if not Path("/usr/bin/chromium").exists() or shutil.which("chromium") is None:  # pragma: no cover
    pytest.skip("Chromium is not installed (scripts/test installs it)", allow_module_level=True)

from playwright.sync_api import expect  # noqa: E402

ANN = "ann@example.org"


def test_leave_a_list_edit_fields_and_unsubscribe_from_everything(settings, engine):  # type: ignore[no-untyped-def]
    with Session(engine) as s:
        news, offers = MailingList(name="News"), MailingList(name="Offers")
        s.add_all([news, offers])
        fields.define(s, "company", "Company", "text", subscriber_editable=True)
        fields.define(s, "team_size", "Team size", "number", subscriber_editable=True)
        fields.define(s, "score", "Lead score", "number")  # the marketer's own: not on the page
        s.commit()
        add_contacts(s, news, ANN)
        add_contacts(s, offers, ANN)
        contact = s.execute(select(Contact).where(Contact.email_key == ANN)).scalar_one()
        contact.attributes = {"score": 7}
        s.add(contact)
        s.commit()
        contact_id = contact.id
        assert contact_id is not None
        news_id, offers_id = news.id, offers.id
    secret = get_secret_key(settings, engine)
    token = preferences.token_for(secret, contact_id, utcnow())
    port = free_port()
    server = settings.model_copy(update={"base_url": f"http://127.0.0.1:{port}"})
    with live_server(server, port) as base, chromium() as browser:
        page = browser.new_context(viewport={"width": 1000, "height": 900}).new_page()
        page.set_default_timeout(20_000)
        page.goto(f"{base}/p/{token}")
        expect(page.get_by_role("heading", level=1)).to_have_text("Your e-mail preferences")
        expect(page.locator("#preferences")).to_contain_text(f"For {ANN}")
        expect(page.locator("#my-lists li")).to_have_count(2)
        expect(page.get_by_label("Lead score")).to_have_count(0)

        page.get_by_role("button", name="Unsubscribe from News").click()
        expect(page.locator("#preferences-notice")).to_have_text("You are unsubscribed from News.")
        expect(page.locator('li[data-list="News"]')).to_contain_text("unsubscribed")
        expect(page.get_by_role("button", name="Unsubscribe from Offers")).to_be_visible()

        page.get_by_label("First name").fill("Anne")
        page.get_by_label("Company").fill("Acme")
        page.get_by_label("Team size").fill("a dozen")
        page.get_by_role("button", name="Save my details").click()
        expect(page.locator("#team_size-error")).to_contain_text('expected a number, not "a dozen"')
        expect(page.get_by_label("Company")).to_have_value("Acme")  # what was typed stays
        page.get_by_label("Team size").fill("12")
        page.get_by_role("button", name="Save my details").click()
        expect(page.locator("#preferences-notice")).to_have_text("Your details are saved.")
        expect(page.get_by_label("First name")).to_have_value("Anne")
        expect(page.get_by_label("Team size")).to_have_value("12")

        page.get_by_role("button", name="Unsubscribe from everything").click()
        expect(page.locator("#preferences-notice")).to_contain_text("You are unsubscribed from everything")
        expect(page.locator("#everything-status")).to_be_visible()
        expect(page.locator("#my-lists")).to_have_count(0)

        tampered = token[:-1] + ("a" if token[-1] != "a" else "b")
        page.goto(f"{base}/p/{tampered}")
        expect(page.get_by_role("heading", level=1)).to_have_text("This link is not valid")
        old = preferences.token_for(secret, contact_id, utcnow() - timedelta(days=settings.preferences_valid_days + 1))
        response = page.goto(f"{base}/p/{old}")
        assert response is not None and response.status == 410
        expect(page.get_by_role("heading", level=1)).to_have_text("This link has expired")
        expect(page.locator("#refused-reason")).to_contain_text("newer e-mail")

    with Session(engine) as s:
        contact = s.get(Contact, contact_id)
        assert contact is not None
        assert (contact.first_name, contact.attributes) == ("Anne", {"score": 7, "company": "Acme", "team_size": 12})
        events = s.execute(select(ConsentEvent).where(ConsentEvent.contact_id == contact_id)).scalars().all()
        mine = [e for e in events if e.actor_kind == "preference_page"]
        assert [(e.action, e.list_id, e.detail) for e in mine] == [
            ("unsubscribe", news_id, {}),
            ("edit", None, {"fields": ["company", "first_name", "team_size"]}),
            ("unsubscribe", None, {}),
        ]
        assert all(e.ip == "127.0.0.1" and "Chrome" in (e.user_agent or "") for e in mine)
        now = utcnow()
        assert compile_audience(s, [offers_id], server, now).counts["excluded"]["unsubscribed"] == 1  # type: ignore[list-item]
        assert why(s, ANN, [offers_id], server, now).reason == "unsubscribed"  # type: ignore[list-item]

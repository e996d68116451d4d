"""The template library, MJML and the public archive in a real browser (Debian's Chromium, headless) against a
live server: a marketer starts a campaign from a saved MJML template and watches the live preview render it for
a contact, then breaks the MJML and sees the error at its line; a reader opens the list's archive and sees the
campaign without anyone's personal data."""

import re
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlmodel import Session

from app.models import Campaign, Contact, ListMember, MailingList, MessageTemplate
from tests.support.browser import chromium, live_server
from tests.support.network import free_port
from tests.web.conftest import EMAIL, PASSWORD, make_user

pytestmark = [pytest.mark.browser]

if not Path("/usr/bin/chromium").exists() or shutil.which("chromium") is None:  # pragma: no cover
    pytest.skip("Chromium is not installed (scripts/test installs it)", allow_module_level=True)

from playwright.sync_api import expect  # noqa: E402

MJML = """<mjml>
  <mj-body>
    <mj-section>
      <mj-column>
        <mj-text>Hello {{ first_name }} in {{ city }}</mj-text>
        <mj-button href="{{ unsubscribe_url }}">Unsubscribe</mj-button>
      </mj-column>
    </mj-section>
  </mj-body>
</mjml>"""


def test_compose_from_an_mjml_template_with_its_preview_and_an_archive_without_personal_data(
    settings, engine, tmp_path
):  # type: ignore[no-untyped-def]
    make_user(engine)
    with Session(engine) as s:
        members = MailingList(name="Members", archive=True)
        zelda = Contact(email="zelda@secret.test", email_key="zelda@secret.test", first_name="Zelda",
                        attributes={"city": "Reykjavik"})  # fmt: skip
        s.add_all([members, zelda])
        s.flush()
        s.add(ListMember(list_id=members.id, contact_id=zelda.id, source="api"))
        s.add(MessageTemplate(name="Monthly MJML", template_language="mjml", subject="News for {{ first_name }}",
                              html_template=MJML))  # fmt: skip
        sent = Campaign(name="March letter", from_address="news@example.test", subject="March for {{ first_name }}",
                        html_template=MJML, template_language="mjml", list_ids=[members.id], relay_ids=[], headers={},
                        archived=True, state="completed", launched_at=datetime(2026, 3, 2, tzinfo=UTC))  # fmt: skip
        s.add(sent)
        s.commit()
        list_id, sent_id = members.id, sent.id
    port = free_port()
    server = settings.model_copy(update={"base_url": f"http://127.0.0.1:{port}", "upload_dir": str(tmp_path),
                                         "embedded_worker": False, "scheduler": False})  # fmt: skip
    with live_server(server, port) as base, chromium() as browser:
        page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        page.set_default_timeout(20_000)
        page.goto(f"{base}/templates")
        page.get_by_label("E-mail address").fill(EMAIL)
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page).to_have_url(f"{base}/templates")

        page.get_by_role("link", name="New campaign from it").click()
        expect(page).to_have_url(re.compile(r"/campaigns/new\?template_id=\d+$"))
        expect(page.get_by_label("HTML body written in")).to_have_value("mjml")
        expect(page.get_by_label("Subject")).to_have_value("News for {{ first_name }}")
        page.get_by_role("group", name="Send to these lists").get_by_label("Members").check()
        preview = page.frame_locator("#preview iframe")
        expect(preview.locator("body")).to_contain_text("Hello Zelda in Reykjavik")  # compiled, then rendered
        expect(preview.locator("table").first).to_be_attached()
        expect(page.locator("#preview-subject")).to_have_text("News for Zelda")

        body = page.get_by_label("HTML body", exact=True)
        body.fill(MJML.replace("</mj-column>", "", 1))
        expect(page.locator("#preview-errors")).to_contain_text("MJML")
        expect(page.locator("#preview-errors")).to_contain_text("line 8")
        body.fill(MJML)
        expect(preview.locator("body")).to_contain_text("Hello Zelda in Reykjavik")

        reader = browser.new_context().new_page()  # not signed in
        reader.goto(f"{base}/archive/{list_id}")
        reader.get_by_role("link", name="March letter").click()
        expect(reader).to_have_url(f"{base}/archive/{list_id}/{sent_id}")
        expect(reader.locator("#archive-subject")).to_have_text("March for")
        archived = reader.frame_locator("#archive-body")
        expect(archived.locator("body")).to_contain_text("Hello  in")
        for personal in ("Zelda", "zelda", "Reykjavik", "secret.test"):
            assert personal not in reader.content()
            assert personal not in archived.locator("body").inner_html()

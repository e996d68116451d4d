"""The marketers' pages in a real browser (Debian's Chromium, headless) against a live server with
its embedded worker, the real Postfix relay and the Dovecot bounce mailbox.

One walk through the product, as a marketer would: sign in, import a CSV through the wizard, compose
with the live preview, launch, watch the progress bar reach 100 %, sweep and see the bounce with its
reason, then follow the unsubscribe link of a message a test user received. Screenshots of the main
pages go to the test's own folder, or to BULKMAIL_SCREENSHOTS_DIR when set: the README's pictures are
refreshed with `BULKMAIL_SCREENSHOTS_DIR=docs/screenshots ./scripts/test tests/web/test_browser.py`."""

import email
import email.policy
import os
import re
import shutil
from pathlib import Path

import pytest
from pydantic import SecretStr

from app.config_store import live_settings
from app.paths import ROOT
from tests.support.browser import chromium, live_server
from tests.support.network import free_port
from tests.web.conftest import EMAIL, PASSWORD, make_user

pytestmark = [pytest.mark.browser, pytest.mark.mailstack]

if not Path("/usr/bin/chromium").exists() or shutil.which("chromium") is None:  # pragma: no cover
    pytest.skip("Chromium is not installed (scripts/test installs it)", allow_module_level=True)

from playwright.sync_api import Page, expect  # noqa: E402

NOREPLY = "noreply@example.test"
GHOST = "ghost@example.test"  # no such local user: Postfix returns a 5.1.1 DSN to the VERP address
SHOTS_DIR = os.environ.get("BULKMAIL_SCREENSHOTS_DIR")
CSV = "Email,First name,Last name,City\nalice@example.test,Alice,Able,Oslo\nbob@example.test,Bob,Baker,Rome\n" \
      f"{GHOST},Ghost,Nobody,Lima\nnot an address,Broken,Row,Nowhere\n"  # fmt: skip


def _server_settings(settings, mail, port: int, tmp_path: Path):  # type: ignore[no-untyped-def]
    return settings.model_copy(update={
        "base_url": f"http://127.0.0.1:{port}", "embedded_worker": True, "scheduler": False,
        "worker_poll_seconds": 0.05, "upload_dir": str(tmp_path / "uploads"), "bounce_address": NOREPLY,
        "smtp_host": mail.host, "smtp_port": mail.submission_port, "smtp_security": "starttls",
        "smtp_cafile": mail.cafile, "smtp_username": NOREPLY, "smtp_password": SecretStr(mail.users[NOREPLY]),
        "smtp_timeout": 10.0, "smtp_rate": 2.0,  # the sending spans a second or so: the page watches it happen
        "mailbox_protocol": "imap", "mailbox_host": mail.host, "mailbox_port": mail.imap_port,
        "mailbox_security": "starttls", "mailbox_user": NOREPLY, "mailbox_password": SecretStr(mail.users[NOREPLY]),
        "mailbox_cafile": mail.cafile,
    })  # fmt: skip


def _shot(page: Page, name: str, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def test_a_marketer_imports_sends_sweeps_and_a_recipient_unsubscribes(mail, settings, engine, db_url, tmp_path):
    make_user(engine)
    port = free_port()
    # one set of pictures for the README is enough; the PostgreSQL run keeps its own
    shots = ROOT / SHOTS_DIR if SHOTS_DIR and db_url.startswith("sqlite") else tmp_path / "screenshots"
    csv_file = tmp_path / "spring-customers.csv"
    csv_file.write_text(CSV)
    with live_server(_server_settings(settings, mail, port, tmp_path), port) as base, chromium() as browser:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.set_default_timeout(20_000)

        # without a session every page sends the browser to sign-in, and back after it
        page.goto(f"{base}/campaigns")
        expect(page).to_have_url(re.compile(r"/login\?next=%2Fcampaigns$"))
        page.get_by_label("E-mail address").fill(EMAIL)
        page.get_by_label("Password", exact=True).fill("wrong password")
        page.get_by_role("button", name="Sign in").click()
        expect(page.locator("#password-error")).to_contain_text("wrong e-mail address or password")
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page).to_have_url(f"{base}/campaigns")

        # a form posted without its CSRF token is refused, even with a valid session cookie
        refused = context.request.post(f"{base}/lists", form={"name": "sneaky"})
        assert refused.status == 403 and "security token" in refused.text()

        # a list, and the import wizard: upload, detected format and preview, progress, report
        page.goto(f"{base}/lists")
        page.get_by_label("Name", exact=True).fill("Spring customers")
        page.get_by_role("button", name="Create list").click()
        page.get_by_label("File", exact=True).set_input_files(str(csv_file))
        page.get_by_role("button", name="Upload and preview").click()
        expect(page.locator("#detected-format")).to_have_text("csv")
        expect(page.get_by_label("Address column")).to_have_value("1")
        expect(page.locator("#preview-table tbody tr")).to_have_count(4)
        page.get_by_role("button", name="Import", exact=True).click()
        expect(page.locator("#import-state")).to_have_text("done")
        expect(page.locator("#import-added")).to_have_text("3")
        expect(page.locator("#import-invalid")).to_have_text("1")
        expect(page.locator("#rejects")).to_contain_text("not an address")
        expect(page.get_by_role("link", name=re.compile("Download all rejected rows"))).to_be_visible()
        _shot(page, "import-report", shots)

        # compose with the live preview; a template error shows at its line
        page.goto(f"{base}/campaigns/new")
        expect(page.locator("#preview-text")).to_contain_text("Hello Ann,")  # the first preview, nothing typed yet
        expect(page.locator("#main .error, #main .alert, #preview .hint")).to_have_count(0)
        page.get_by_label("Campaign name").fill("Spring sale")
        page.get_by_label("From name").fill("Bulk Shop")
        page.get_by_role("group", name="Send to these lists").get_by_label("Spring customers").check()
        page.get_by_label("Subject", exact=True).fill("Spring news for {{ first_name }}")
        page.get_by_label("HTML body", exact=True).fill(
            "<h1>Hello {{ first_name }}</h1>\n<p>News from {{ City }}.</p>\n{% if %}"
        )
        expect(page.locator("#preview-errors")).to_contain_text("line 3")
        page.get_by_label("HTML body", exact=True).fill(
            "<h1>Hello {{ first_name }}</h1>\n<p>Spring is here in {{ City }}.</p>\n"
            '<p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>'
        )
        expect(page.locator("#preview-subject")).to_have_text("Spring news for Alice")
        # the preview's unsubscribe link has the shape of a real one, under the service's base URL
        assert f'href="{base}/u/preview"' in (page.locator("#preview iframe").get_attribute("srcdoc") or "")
        _shot(page, "compose", shots)
        page.get_by_role("button", name="Save draft").click()
        expect(page.locator("#campaign-state")).to_have_text("draft")
        expect(page.locator("h1")).to_have_text("Spring sale")
        expect(page.locator("#campaign-subject")).to_have_text("“Spring news for Alice”")

        # launch and watch the bar fill without reloading the page
        page.get_by_role("button", name="Launch").click()
        expect(page.locator(".notice")).to_have_text("Campaign launched.")
        expect(page.locator("#percent")).to_have_text("100.0 %", timeout=30_000)
        expect(page.locator("#campaign-state")).to_have_text("completed")
        expect(page.locator(".notice")).to_have_count(0)  # the launch notice went with the state it announced
        expect(page.locator("#count-sent")).to_have_text("3")
        _shot(page, "campaign", shots)

        # the unknown user's DSN comes back to the VERP address; a sweep records it with its reason
        mail.wait_for_messages(NOREPLY, 1, timeout=20)
        page.goto(f"{base}/bounces")
        page.get_by_role("button", name="Sweep the mailbox now").click()
        expect(page.locator(".notice")).to_contain_text("1 recorded")
        row = page.locator("#bounces tbody tr", has_text=GHOST)
        expect(row.locator(".reason")).to_have_text("userunknown")
        expect(row).to_contain_text("5.1.1")
        expect(row).to_contain_text("verp")
        row.get_by_text("headers").click()  # the returned original's own headers
        expect(row.locator("pre")).to_contain_text("Subject: Spring news for Ghost")
        _shot(page, "bounces", shots)

        # the settings page tests the relay it is given and never shows the saved password
        page.goto(f"{base}/settings")
        assert mail.users[NOREPLY] not in page.content()
        page.get_by_role("button", name="Test connection").first.click()
        expect(page.locator("#relay-check")).to_contain_text("Connection works")
        _shot(page, "settings", shots)

        page.goto(f"{base}/")
        expect(page.locator("#recent-campaigns")).to_contain_text("Spring sale")
        expect(page.locator("#installation-rates")).to_contain_text("last 24 hours")
        _shot(page, "dashboard", shots)

        # a recipient opens the message and follows its unsubscribe link (public: a fresh browser context)
        [raw] = mail.wait_for_messages("alice@example.test", 1, timeout=15)
        message = email.message_from_bytes(raw, policy=email.policy.default)
        link = re.search(r"<(http://[^>]+)>", message["List-Unsubscribe"]).group(1)  # type: ignore[union-attr]
        assert link.startswith(base)
        stranger = browser.new_context().new_page()
        stranger.goto(link)
        expect(stranger.get_by_role("heading")).to_have_text("Unsubscribe")
        stranger.get_by_role("button", name="Unsubscribe").click()
        expect(stranger.get_by_role("heading")).to_have_text("You are unsubscribed")

        page.goto(f"{base}/suppressions")
        expect(page.locator("#suppressions tr", has_text="alice@example.test")).to_contain_text("unsubscribed")
        expect(page.locator("#suppressions tr", has_text=GHOST)).to_contain_text("bounced")
        _shot(page, "suppressions", shots)
        context.close()


def test_testing_the_relay_keeps_the_typed_password_and_only_save_stores_it(mail, settings, engine, tmp_path):
    """A newcomer types the relay's host, login and password, tests, then saves: the password typed is
    the one saved (the test kept it), the page asks before it is left unsaved, and never shows it back."""
    make_user(engine)
    port = free_port()
    # the environment knows no relay login: only what is typed on the page can make the relay test pass
    server = _server_settings(settings, mail, port, tmp_path).model_copy(
        update={"smtp_host": "127.0.0.1", "smtp_port": free_port(), "smtp_username": None, "smtp_password": None,
                "smtp_cafile": None, "embedded_worker": False})  # fmt: skip
    password = mail.users[NOREPLY]
    with live_server(server, port) as base, chromium() as browser:
        page = browser.new_page()
        page.set_default_timeout(20_000)
        dialogs: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.type), d.dismiss()))
        page.goto(f"{base}/settings")
        page.get_by_label("E-mail address").fill(EMAIL)
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page).to_have_url(f"{base}/settings")

        relay = page.locator("section", has=page.get_by_role("heading", name="SMTP relay"))
        relay.get_by_label("Host").fill(mail.host)
        relay.get_by_label("Port").fill(str(mail.submission_port))
        relay.get_by_label("Security").select_option("starttls")
        relay.get_by_label("Username").fill(NOREPLY)
        relay.get_by_label("Password").fill(password)
        relay.get_by_label("CA file (optional)").fill(mail.cafile)
        relay.get_by_role("button", name="Test connection").click()
        expect(page.locator("#relay-check")).to_contain_text("Connection works")
        # every typed field is still there, the password included; nothing is saved yet
        expect(relay.get_by_label("Password")).to_have_value(password)
        expect(relay.get_by_label("Username")).to_have_value(NOREPLY)
        expect(relay.get_by_label("Port")).to_have_value(str(mail.submission_port))
        expect(relay.get_by_label("CA file (optional)")).to_have_value(mail.cafile)
        assert live_settings(server, engine).smtp_password is None

        # leaving now would lose it: the browser asks, and staying keeps every field
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Dashboard").click()
        expect(page.locator("#relay-check")).to_be_visible()
        assert dialogs == ["beforeunload"]
        expect(page).to_have_url(f"{base}/settings")
        expect(relay.get_by_label("Password")).to_have_value(password)

        page.get_by_role("button", name="Save settings").click()
        expect(page.get_by_text("Settings saved")).to_be_visible()
        assert dialogs == ["beforeunload"], "saving asks nothing"
        assert password not in page.content(), "a saved password is never shown again"
        expect(relay.get_by_label("Password")).to_have_value("")
        saved = live_settings(server, engine)
        assert saved.smtp_password is not None and saved.smtp_password.get_secret_value() == password
        assert saved.smtp_username == NOREPLY and saved.smtp_port == mail.submission_port

        # a later test, with the password field left empty, uses the saved password and passes
        relay.get_by_role("button", name="Test connection").click()
        expect(page.locator("#relay-check")).to_contain_text("Connection works")
        expect(relay.get_by_label("Password")).to_have_value("")
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Dashboard").click()
        expect(page).to_have_url(f"{base}/")  # nothing typed since: no question
        assert dialogs == ["beforeunload"]

"""End to end: a tracked campaign through the real Postfix relay into Dovecot mailboxes; Chromium opens one
delivered message and clicks a link, a scripted scanner fetches every link of another right after its
delivery; the report tells the person from the machine."""

import email
import email.policy
import re
import time

import httpx
import pytest
from pydantic import SecretStr
from sqlmodel import Session

from app.models import Campaign, TrackingHit, utcnow
from app.sending import campaigns as service
from tests.conftest import make_api_key
from tests.sending.conftest import campaign_state, make_campaign, make_list, run_worker_until
from tests.support.browser import chromium, live_server
from tests.support.network import free_port
from tests.tracking.support import settle_all

pytestmark = pytest.mark.mailstack

NOREPLY = "noreply@example.test"
CHROME = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"


def _html(raw: bytes) -> str:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    return msg.get_body(("html",)).get_content()  # type: ignore[union-attr]


def _hits(engine) -> int:  # type: ignore[no-untyped-def]
    with Session(engine) as s:
        return len(list(s.query(TrackingHit)))


def _until(check, timeout: float = 15.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_a_person_in_chromium_and_a_scanner_are_told_apart(mail, settings, engine, session):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    s = settings.model_copy(update={
        "smtp_host": mail.host, "smtp_port": mail.submission_port, "smtp_security": "starttls",
        "smtp_cafile": mail.cafile, "smtp_username": NOREPLY, "smtp_password": SecretStr(mail.users[NOREPLY]),
        "worker_poll_seconds": 0.05, "smtp_timeout": 10.0, "base_url": base,
        "tracking_prefetch_seconds": 3.0, "tracking_burst_seconds": 2.0,
    })  # fmt: skip
    html = (
        f'<html><body><p>Hello {{{{ first_name }}}}</p><p><a id="sale" href="{base}/healthz?link=sale">Sale</a> '
        f'<a href="{base}/healthz?link=news">News</a></p>'
        '<p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p></body></html>'
    )
    lst = make_list(session, "team", [("alice@example.test", "Alice", {}), ("bob@example.test", "Bob", {})])
    campaign = make_campaign(session, [lst.id], from_address=NOREPLY, html_template=html, tracking="contact",
                             text_template="Hello {{ first_name }}\nUnsubscribe: {{ unsubscribe_url }}\n")  # fmt: skip
    service.launch(session, campaign, s, utcnow())
    session.commit()
    campaign_id = campaign.id
    with live_server(s, port):
        run_worker_until(s, engine, lambda: campaign_state(engine, campaign_id) == "completed")
        # the scanner: as the message arrives, every link fetched at once (with a browser's user agent)
        [bob] = mail.wait_for_messages("bob@example.test", 1, timeout=15)
        links = re.findall(r'href="([^"]+/t/c/[^"]+)"', _html(bob))
        assert len(links) == 2 and all(u.startswith(f"{base}/t/c/") for u in links)
        with httpx.Client(headers={"User-Agent": CHROME}) as scanner:
            for url in links:
                assert scanner.get(url).status_code == 302
        # the person reads later, in Chromium: the pixel loads with the message, then a click
        [alice] = mail.wait_for_messages("alice@example.test", 1, timeout=15)
        time.sleep(s.tracking_prefetch_seconds)
        with chromium() as browser:
            page = browser.new_context(user_agent=CHROME).new_page()  # type: ignore[attr-defined]
            page.set_content(_html(alice), wait_until="load")
            with page.expect_navigation():
                page.click("#sale")
            assert page.url == f"{base}/healthz?link=sale"
        # an unknown URL is refused: a made-up token, and a real one pointed at another link
        forged = links[0][:-1] + ("a" if links[0][-1] != "a" else "b")
        for url in (forged, f"{base}/t/c/https://evil.example/"):
            r = httpx.get(url, follow_redirects=False)
            assert r.status_code == 404 and "location" not in r.headers
        _until(lambda: _hits(engine) == 4)  # the recorder writes within its flush interval
        settle_all(engine, s)
        key = make_api_key(engine, "read")
        report = httpx.get(f"{base}/api/v1/campaigns/{campaign_id}/report",
                           headers={"Authorization": f"Bearer {key}"}).json()  # fmt: skip
    assert (report["opens"]["human"], report["opens"]["human_unique"]) == (1, 1)
    assert (report["clicks"]["human"], report["clicks"]["human_unique"]) == (1, 1)
    assert report["clicks"]["machine"] == 2 and set(report["clicks"]["machine_by_rule"]) <= {"prefetch", "burst"}
    with Session(engine) as sess:
        assert sess.get(Campaign, campaign_id).tracking == "contact"  # type: ignore[union-attr]

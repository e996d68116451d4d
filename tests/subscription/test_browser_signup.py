"""The signup lifecycle end to end, with real servers: a marketer opens a list's signup form in Chromium; a
person subscribes through the hosted form in Chromium, receives the confirmation through the Postfix relay
in a Dovecot mailbox, confirms, receives the welcome mail, and is in the next audience; then has their data
erased, after which an import of their address is refused as "erased". And the one-click unsubscribe of a
campaign's message, which is to leave the person on their other lists."""

import email
import email.policy
import re
import shutil
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlmodel import Session

from app.audience.compile import compile_audience
from app.audience.why import why
from app.main import create_app
from app.models import MailingList, utcnow
from app.sending import campaigns as sending
from app.subscription import consent
from app.subscription.signup import Submission, subscribe
from tests.conftest import make_api_key
from tests.sending.conftest import campaign_state, make_campaign, run_worker_until
from tests.subscription.support import contact_id, ledger, membership
from tests.support.browser import chromium, live_server
from tests.support.network import free_port
from tests.users.support import PASSWORD, make_user_of

pytestmark = [pytest.mark.browser, pytest.mark.mailstack]

if not Path("/usr/bin/chromium").exists() or shutil.which("chromium") is None:  # pragma: no cover
    pytest.skip("Chromium is not installed (scripts/test installs it)", allow_module_level=True)

from playwright.sync_api import expect  # noqa: E402

NOREPLY = "noreply@example.test"
PERSON = "alice@example.test"  # a real Dovecot mailbox of the test stack


def _relay(settings, mail, **more):  # type: ignore[no-untyped-def]
    return settings.model_copy(update={
        "smtp_host": mail.host, "smtp_port": mail.submission_port, "smtp_security": "starttls",
        "smtp_cafile": mail.cafile, "smtp_username": NOREPLY, "smtp_password": SecretStr(mail.users[NOREPLY]),
        "smtp_timeout": 10.0, "bounce_address": NOREPLY, "worker_poll_seconds": 0.05, **more,
    })  # fmt: skip


def _message(raw: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)  # type: ignore[return-value]


def _new_list(engine, name: str) -> int:  # type: ignore[no-untyped-def]
    with Session(engine) as s:
        ml = MailingList(name=name)
        s.add(ml)
        s.commit()
        assert ml.id is not None
        return ml.id


def test_subscribe_confirm_welcome_audience_erase_and_no_way_back(mail, settings, engine) -> None:  # type: ignore[no-untyped-def]
    make_user_of(engine, "marketer")
    list_id = _new_list(engine, "Garden news")
    port = free_port()
    live = _relay(settings, mail, base_url=f"http://127.0.0.1:{port}", scheduler=True, signup_mail_poll_seconds=0.5)
    with live_server(live, port) as base, chromium() as browser:
        marketer = browser.new_context().new_page()
        marketer.set_default_timeout(20_000)
        marketer.goto(f"{base}/login")
        marketer.get_by_label("E-mail address").fill("marketer@example.test")
        marketer.get_by_label("Password", exact=True).fill(PASSWORD)
        marketer.get_by_role("button", name="Sign in").click()
        marketer.goto(f"{base}/lists/{list_id}")
        marketer.get_by_label("Public: the hosted form and the snippet work").check()
        marketer.get_by_label("Consent text").fill("I agree to receive Garden news by e-mail.")
        marketer.get_by_label("Welcome mail: subject").fill("Welcome to {{ list_name }}")
        marketer.get_by_label("Welcome mail: text").fill("Hello {{ first_name }}, glad to have you.")
        marketer.get_by_role("button", name="Save signup settings").click()
        expect(marketer.locator(".notice")).to_contain_text("Signup settings saved.")
        expect(marketer.locator("#signup-summary")).to_contain_text("consent text version 1")
        form_url = marketer.locator("#signup-summary a").inner_text()
        assert form_url == f"{base}/s/{list_id}"
        assert f'action="{form_url}"' in marketer.locator("#signup-snippet").input_value()

        person = browser.new_context().new_page()
        person.set_default_timeout(20_000)
        person.goto(form_url)
        expect(person.locator("#consent-text")).to_have_text("I agree to receive Garden news by e-mail.")
        person.get_by_label("E-mail address").fill(PERSON)
        person.get_by_label("First name").fill("Alice")
        person.get_by_role("button", name="Subscribe").click()
        expect(person.get_by_role("heading", name="Check your mail")).to_be_visible()

        [raw] = mail.wait_for_messages(PERSON, 1, timeout=30)
        confirmation = _message(raw)
        assert confirmation["Subject"] == "Please confirm your subscription to Garden news"
        link = re.search(rf"{re.escape(base)}/s/confirm/\S+", confirmation.get_body(("plain",)).get_content())
        assert link, confirmation.get_body(("plain",)).get_content()
        assert membership(engine, list_id, PERSON) == "unconfirmed"
        person.goto(link.group(0))
        person.get_by_role("button", name="Confirm").click()
        expect(person.locator("#signup-confirmed")).to_contain_text("you now receive Garden news")

        raws = mail.wait_for_messages(PERSON, 2, timeout=30)
        welcome = next(m for m in map(_message, raws) if m["Subject"] == "Welcome to Garden news")
        assert "Hello Alice, glad to have you." in welcome.get_body(("plain",)).get_content()
        contact = contact_id(engine, PERSON)
        assert contact is not None
        actions = [(e.action, e.actor_kind, e.consent_text_version) for e in ledger(engine, contact)]
        assert actions == [("subscribe", "form", "v1"), ("confirm", "form", "v1")]
        with Session(engine) as s:  # the next audience
            compiled = compile_audience(s, [list_id], live, utcnow())
            assert [address for _, address, _ in compiled.contacts()] == [PERSON]

        api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {make_api_key(engine)}"}, timeout=20)
        assert api.delete(f"/api/v1/contacts/{contact}").status_code == 204
        job = api.post(f"/api/v1/lists/{list_id}/imports", files={"file": ("back.csv", f"email\n{PERSON}\n".encode())})
        assert job.status_code in (201, 202), job.text
        deadline = time.monotonic() + 30
        while (state := api.get(f"/api/v1/imports/{job.json()['id']}").json())["state"] not in ("done", "failed"):
            assert time.monotonic() < deadline, state
            time.sleep(0.2)
        assert (state["added"], state["invalid"]) == (0, 1)
        [reject] = api.get(f"/api/v1/imports/{job.json()['id']}/rejects").json()["items"]
        assert reject["reason"].startswith("erased")
        assert membership(engine, list_id, PERSON) is None


def test_one_click_unsubscribe_leaves_the_person_on_their_other_list(mail, settings, engine) -> None:  # type: ignore[no-untyped-def]
    s = _relay(settings, mail)
    news, offers = _new_list(engine, "News"), _new_list(engine, "Offers")
    for list_id in (news, offers):
        with Session(engine) as session:
            from app.subscription import forms

            ml = session.get(MailingList, list_id)
            assert ml is not None
            forms.save(session, ml, forms.Changes(double_opt_in=False))
            session.commit()
        subscribe(
            engine, list_id, Submission(email=PERSON, first_name="Alice"), consent.Actor("api_key", "test"), False
        )
    with Session(engine) as session:
        campaign = make_campaign(session, [news], from_address=NOREPLY, html_template="<p>Hello {{ first_name }}</p>",
                                 text_template="Hello {{ first_name }}")  # fmt: skip
        sending.launch(session, campaign, s, utcnow())
        session.commit()
        campaign_id = campaign.id
    run_worker_until(s, engine, lambda: campaign_state(engine, campaign_id) == "completed")
    [raw] = mail.wait_for_messages(PERSON, 1, timeout=15)
    message = _message(raw)
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = re.search(r"<(http[^>]+)>", message["List-Unsubscribe"])
    assert url
    with TestClient(create_app(s)) as client:
        r = client.post(url.group(1).removeprefix(s.base_url), data={"List-Unsubscribe": "One-Click"})
        assert r.status_code == 200
    with Session(engine) as session:
        assert why(session, PERSON, [news], s, utcnow()).reason == "unsubscribed_list"
        assert why(session, PERSON, [offers], s, utcnow()).included

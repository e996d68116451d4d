"""Unsubscribing from a campaign's lists, not from everything, through the real Postfix relay and Dovecot:
a contact on lists A and B receives a campaign sent to A (and to a list C they are not on), then
unsubscribes by the message's own one-click URL or its mailto command, and stays in B's audience while
leaving A's (C is not theirs to leave)."""

import email
import email.policy
import re
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine, select
from sqlmodel import Session

from app.audience.compile import compile_audience
from app.audience.why import why
from app.bounces.sweep import run_sweep
from app.models import ConsentEvent, Contact, MailingList, Suppression, utcnow
from app.sending import campaigns as service
from app.settings import Settings
from tests.audience.support import add_contacts
from tests.bounces.support import mailbox_settings
from tests.sending.conftest import campaign_state, make_campaign, run_worker_until
from tests.support.mailstack import MailStack

pytestmark = pytest.mark.mailstack

NOREPLY = "noreply@example.test"
ALICE, BOB = "alice@example.test", "bob@example.test"


def _relay(settings: Settings, mail: MailStack) -> Settings:
    return settings.model_copy(update={
        "smtp_host": mail.host, "smtp_port": mail.submission_port, "smtp_security": "starttls",
        "smtp_cafile": mail.cafile, "smtp_username": NOREPLY, "smtp_password": SecretStr(mail.users[NOREPLY]),
        "worker_poll_seconds": 0.05, "smtp_timeout": 10.0,
    })  # fmt: skip


def _lists(session: Session) -> tuple[MailingList, MailingList, MailingList]:
    """Alice on News and Offers, Bob on News and Staff."""
    news, offers, staff = MailingList(name="News"), MailingList(name="Offers"), MailingList(name="Staff")
    session.add_all([news, offers, staff])
    session.commit()
    add_contacts(session, news, ALICE, BOB)
    add_contacts(session, offers, ALICE)
    add_contacts(session, staff, BOB)
    return news, offers, staff


def _send_to(session: Session, settings: Settings, engine: Engine, mail: MailStack, *ml: MailingList) -> int:
    """Send a campaign to the lists through the relay; returns its id once it is completed."""
    s = _relay(settings, mail)
    campaign = make_campaign(
        session, [m.id for m in ml], from_address=NOREPLY, subject="News", html_template="",
        text_template="Hello\n\nYour preferences: {{ preferences_url }}\n",
    )  # fmt: skip
    service.launch(session, campaign, s, utcnow())
    session.commit()
    run_worker_until(s, engine, lambda: campaign_state(engine, campaign.id) == "completed")
    assert campaign.id is not None
    return campaign.id


def _received(mail: MailStack, address: str) -> EmailMessage:
    [raw] = mail.wait_for_messages(address, 1, timeout=15)
    return email.message_from_bytes(raw, policy=email.policy.default)  # type: ignore[return-value]


def _links(msg: EmailMessage) -> dict[str, str]:
    """The message's List-Unsubscribe URL and mailto address, and its List-Help (preference page) URL."""
    unsub = re.findall(r"<([^>]+)>", str(msg["List-Unsubscribe"]))
    [help_url] = re.findall(r"<([^>]+)>", str(msg["List-Help"]))
    return {
        "url": next(u for u in unsub if u.startswith("http")),
        "mailto": next(u for u in unsub if u.startswith("mailto:")).removeprefix("mailto:").split("?")[0],
        "preferences": help_url,
    }


def _assert_left_news_only(session: Session, settings: Settings, news: MailingList, offers: MailingList) -> None:
    now = utcnow()
    session.expire_all()
    in_news = compile_audience(session, [news.id], settings, now)  # type: ignore[list-item]
    in_offers = compile_audience(session, [offers.id], settings, now)  # type: ignore[list-item]
    assert [e for _, e, _ in in_news.contacts()] == [BOB]
    assert in_news.counts["excluded"]["unsubscribed_list"] == 1 and in_news.counts["excluded"]["unsubscribed"] == 0
    assert in_news.counts["unsubscribed_by_list"] == {"News": 1}
    assert [e for _, e, _ in in_offers.contacts()] == [ALICE]
    verdict = why(session, ALICE, [news.id], settings, now)  # type: ignore[list-item]
    assert (verdict.included, verdict.reason) == (False, "unsubscribed_list")
    assert verdict.detail.startswith("excluded: unsubscribed from News on")
    [row] = session.execute(select(Suppression)).scalars().all()
    assert (row.email_key, row.reason, row.list_id) == (ALICE, "unsubscribed", news.id)


def _ledger(session: Session) -> list[tuple[str, int | None, str]]:
    alice = session.execute(select(Contact.id).where(Contact.email_key == ALICE)).scalar_one()
    events = session.execute(
        select(ConsentEvent).where(ConsentEvent.contact_id == alice, ConsentEvent.action == "unsubscribe")
    ).scalars()
    return [(e.action, e.list_id, e.actor_kind) for e in events]


def test_one_click_from_the_received_message_leaves_only_the_campaigns_list(
    mail: MailStack, settings: Settings, engine: Engine, session: Session, anon_client: TestClient
) -> None:
    news, offers, staff = _lists(session)
    _send_to(session, settings, engine, mail, news, staff)
    msg = _received(mail, ALICE)
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    links = _links(msg)
    assert links["url"].startswith("http://testserver/u/u")
    assert links["preferences"].startswith("http://testserver/p/p") and links["preferences"] in msg.get_content()

    # what a mail provider sends for RFC 8058 one-click, to the header's own URL
    done = anon_client.post(links["url"].removeprefix("http://testserver"), data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200 and "News" in done.text and "Staff" not in done.text

    _assert_left_news_only(session, settings, news, offers)
    assert _ledger(session) == [("unsubscribe", news.id, "one_click")]
    session.commit()  # SQLite: a reading transaction holds the write lock the page needs
    # the preference page says the same: off News, still on Offers
    page = anon_client.get(links["preferences"].removeprefix("http://testserver")).text
    assert re.search(r'data-list="News">.*?unsubscribed', page, re.S)
    assert re.search(r'data-list="Offers">.*?aria-label="Unsubscribe from Offers"', page, re.S)


def test_a_mailed_unsubscribe_command_leaves_only_the_campaigns_list(
    mail: MailStack, settings: Settings, engine: Engine, session: Session
) -> None:
    news, offers, staff = _lists(session)
    campaign_id = _send_to(session, settings, engine, mail, news, staff)
    to = _links(_received(mail, ALICE))["mailto"]
    assert to.startswith("noreply+u") and to.endswith("@example.test")

    # what a mail program sends for the mailto of List-Unsubscribe, through the real relay
    command = EmailMessage()
    command["From"], command["To"], command["Subject"] = ALICE, to, "unsubscribe"
    command["Date"], command["Message-ID"] = formatdate(), make_msgid(domain="example.test")
    command.set_content("")
    with smtplib.SMTP(mail.host, mail.submission_port, timeout=10) as smtp:
        smtp.starttls(context=ssl.create_default_context(cafile=mail.cafile))
        smtp.login(NOREPLY, mail.users[NOREPLY])
        smtp.send_message(command, from_addr=ALICE, to_addrs=[to])
    mail.wait_for_messages(NOREPLY, 1, timeout=15)

    sweep = run_sweep(mailbox_settings(settings, mail), engine, trigger="cli")
    assert sweep is not None and sweep.state == "done", sweep and sweep.error
    assert sweep.per_kind == {"unsubscribe": 1}

    _assert_left_news_only(session, settings, news, offers)
    assert session.execute(select(Suppression.campaign_id)).scalar_one() == campaign_id
    assert _ledger(session) == [("unsubscribe", news.id, "mailed_command")]

"""Addresses whose local part is not ASCII (`jörg@example.test`): counted apart by the compile, sent
with SMTPUTF8 through a relay that offers it (the real Postfix) and failed with a plain reason by
one that does not (an SMTP server without the extension)."""

import email
import email.policy

import pytest
from pydantic import SecretStr
from sqlalchemy import select
from sqlmodel import Session

from app.models import Campaign, Delivery, Suppression, utcnow
from app.sending import campaigns as service
from tests.sending.conftest import campaign_state, make_campaign, make_list, relay_settings, run_worker_until
from tests.sending.sink import Sink, SinkServer

NOREPLY = "noreply@example.test"
JOERG = "jörg@example.test"
PEOPLE = [(JOERG, "Jörg", {}), ("alice@example.test", "Alice", {})]


def _launch(session: Session, settings) -> Campaign:  # type: ignore[no-untyped-def]
    lst = make_list(session, "team", PEOPLE)
    campaign = make_campaign(session, [lst.id], from_address=NOREPLY, subject="Hi {{ first_name }}",
                             html_template="", text_template="Hello {{ first_name }} <{{ email }}>\n")  # fmt: skip
    service.launch(session, campaign, settings, utcnow())
    session.commit()
    return campaign


def _rows(engine, campaign_id: int) -> dict[str, Delivery]:  # type: ignore[no-untyped-def]
    with Session(engine) as s:
        return {d.email: d for d in s.execute(select(Delivery).where(Delivery.campaign_id == campaign_id)).scalars()}


@pytest.mark.mailstack
def test_a_non_ascii_local_part_is_counted_and_delivered_with_smtputf8(mail, settings, engine, session):
    s = settings.model_copy(update={
        "smtp_host": mail.host, "smtp_port": mail.submission_port, "smtp_security": "starttls",
        "smtp_cafile": mail.cafile, "smtp_username": NOREPLY, "smtp_password": SecretStr(mail.users[NOREPLY]),
        "worker_poll_seconds": 0.05, "smtp_timeout": 10.0,
    })  # fmt: skip
    campaign = _launch(session, s)
    run_worker_until(s, engine, lambda: campaign_state(engine, campaign.id) == "completed")

    rows = _rows(engine, campaign.id)
    assert rows[JOERG].state == "sent" and rows[JOERG].last_reply_code == 250, rows[JOERG].last_reply
    [raw] = mail.wait_for_messages(JOERG, 1, timeout=15)
    msg = email.message_from_string(raw.decode("utf-8"), policy=email.policy.SMTPUTF8)
    assert msg["To"].addresses[0].addr_spec == JOERG
    assert msg["Subject"] == "Hi Jörg"
    assert f"Hello Jörg <{JOERG}>" in msg.get_body(("plain",)).get_content()
    assert mail.wait_for_messages("alice@example.test", 1, timeout=15)
    assert campaign.audience_counts["included"] == 2 and campaign.audience_counts["needs_smtputf8"] == 1


def test_a_relay_without_smtputf8_fails_only_those_rows_with_a_plain_reason(settings, engine, session):
    with SinkServer(Sink(), smtputf8=False) as sink:
        s = relay_settings(settings, sink.port)
        campaign = _launch(session, s)
        run_worker_until(s, engine, lambda: campaign_state(engine, campaign.id) == "completed")

    rows = _rows(engine, campaign.id)
    assert rows["alice@example.test"].state == "sent"
    joerg = rows[JOERG]
    assert joerg.state == "failed" and joerg.last_reply_code is None
    assert joerg.last_reply == (
        f"not sent: the relay 127.0.0.1:{sink.port} does not support SMTPUTF8, which the address needs "
        "(its part before the @ is not ASCII)"
    )
    assert [a.rcpt for a in sink.sink.accepted] == ["alice@example.test"]
    with Session(engine) as fresh:  # the address is fine: it is not suppressed
        assert fresh.execute(select(Suppression).where(Suppression.email_key == JOERG)).first() is None


def test_the_audience_preview_counts_addresses_that_need_smtputf8(client, session):
    lst = make_list(session, "team", PEOPLE)
    counts = client.post("/api/v1/audience/preview", json={"list_ids": [lst.id]}).json()
    assert counts["included"] == 2 and counts["needs_smtputf8"] == 1

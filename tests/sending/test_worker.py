"""The worker against a recording SMTP server: the ledger records every result; 4xx retries on the
schedule; 5xx fails with a bounce; 421 and dropped lines back off and resend; relay errors pause the campaign."""

import email
import email.policy
from datetime import timedelta

from sqlalchemy import select
from sqlmodel import Session

from app.models import (
    Bounce,
    Campaign,
    Delivery,
    DeliveryAttempt,
    MailingList,
    Suppression,
    WebhookEndpoint,
    WebhookEvent,
    utcnow,
)
from app.secret_key import get_secret_key
from app.sending import campaigns as service
from app.tokens import parse_token
from tests.sending.conftest import campaign_state, make_campaign, make_list, relay_settings, run_worker_until
from tests.sending.sink import Sink, SinkServer
from tests.support.verp import token_from_address

PEOPLE = [("ann@x.test", "Ann", {"city": "Oslo"}), ("bob@x.test", "Bob", {"city": "Rome"}),
          ("cy@x.test", "Cy", {})]  # fmt: skip


def _launch(session: Session, settings, **kw) -> Campaign:  # type: ignore[no-untyped-def]
    lst = make_list(session, "customers", PEOPLE)
    campaign = make_campaign(session, [lst.id], **kw)
    service.launch(session, campaign, settings, utcnow())
    session.commit()
    return campaign


def _rows(engine, campaign_id: int) -> dict[str, Delivery]:  # type: ignore[no-untyped-def]
    with Session(engine) as s:
        return {d.email: d for d in s.execute(select(Delivery).where(Delivery.campaign_id == campaign_id)).scalars()}


def _completed(engine, campaign_id: int):  # type: ignore[no-untyped-def]
    return lambda: campaign_state(engine, campaign_id) == "completed"


def test_campaign_is_sent_once_to_each_recipient_with_verp_and_personalisation(settings, engine, session, sink):
    s = relay_settings(settings, sink.port)
    campaign = _launch(session, s)
    run_worker_until(s, engine, _completed(engine, campaign.id))

    assert sink.sink.counts() == {"ann@x.test": 1, "bob@x.test": 1, "cy@x.test": 1}
    rows = _rows(engine, campaign.id)
    secret = get_secret_key(s, engine)
    for item in sink.sink.accepted:
        row = rows[item.rcpt]
        assert row.state == "sent" and row.attempts == 1 and row.sent_at is not None
        # the return path names the delivery and cannot be forged
        token = token_from_address(item.mail_from)
        assert token == row.verp_token and parse_token(secret, token) == ("d", row.id)
        msg = email.message_from_bytes(item.data, policy=email.policy.default)
        assert msg["Message-ID"] == row.message_id
        assert msg["X-Bulkmail-Delivery"] == str(row.id)
        first = {"ann@x.test": "Ann", "bob@x.test": "Bob", "cy@x.test": "Cy"}[item.rcpt]
        assert msg["Subject"] == f"Hi {first}"
    ann = email.message_from_bytes(next(a.data for a in sink.sink.accepted if a.rcpt == "ann@x.test"),
                                   policy=email.policy.default)  # fmt: skip
    assert "Hello Ann from Oslo" in ann.get_body(("plain",)).get_content()
    cy = email.message_from_bytes(next(a.data for a in sink.sink.accepted if a.rcpt == "cy@x.test"),
                                  policy=email.policy.default)  # fmt: skip
    assert "Hello Cy from \r\n" in cy.get_body(("plain",)).get_content()  # an attribute Cy lacks renders empty
    with Session(engine) as sess:
        assert sess.execute(select(DeliveryAttempt.outcome)).scalars().all() == ["sent"] * 3


def test_a_line_starting_with_a_dot_arrives_intact(settings, engine, session, sink):
    s = relay_settings(settings, sink.port)
    campaign = _launch(session, s, text_template=".hidden line\n..two dots\nend\n", html_template="")
    run_worker_until(s, engine, _completed(engine, campaign.id))
    msg = email.message_from_bytes(sink.sink.accepted[0].data, policy=email.policy.default)
    assert msg.get_content().replace("\r\n", "\n") == ".hidden line\n..two dots\nend\n"


def test_greylisting_451_is_deferred_and_delivered_on_the_retry(settings, engine, session, sink):
    sink.sink.rcpt_script["bob@x.test"] = ["451 4.7.1 Greylisted, try again later"]
    s = relay_settings(settings, sink.port, retry_minutes=[0, 0])
    campaign = _launch(session, s)
    run_worker_until(s, engine, _completed(engine, campaign.id))
    assert sink.sink.counts() == {"ann@x.test": 1, "bob@x.test": 1, "cy@x.test": 1}
    bob = _rows(engine, campaign.id)["bob@x.test"]
    assert bob.state == "sent" and bob.attempts == 2
    with Session(engine) as sess:
        outcomes = sess.execute(
            select(DeliveryAttempt.outcome, DeliveryAttempt.reply_code)
            .where(DeliveryAttempt.delivery_id == bob.id).order_by(DeliveryAttempt.id)
        ).all()  # fmt: skip
    assert [tuple(o) for o in outcomes] == [("deferred", 451), ("sent", 250)]


def test_4xx_is_retried_on_the_schedule_not_at_once(settings, engine, session, sink):
    sink.sink.rcpt_script["bob@x.test"] = ["452 4.2.2 Mailbox full"]
    s = relay_settings(settings, sink.port)  # the real schedule: 15 minutes first
    campaign = _launch(session, s)
    run_worker_until(
        s, engine, lambda: len(sink.sink.accepted) == 2 and _rows(engine, campaign.id)["bob@x.test"].attempts
    )
    bob = _rows(engine, campaign.id)["bob@x.test"]
    assert bob.state == "deferred" and bob.last_reply_code == 452
    assert bob.next_attempt_at - bob.first_attempt_at == timedelta(minutes=15)
    assert campaign_state(engine, campaign.id) == "sending"


def test_4xx_past_the_last_retry_expires_as_a_soft_bounce(settings, engine, session, sink):
    sink.sink.rcpt_script["bob@x.test"] = ["451 4.3.0 try later"] * 3
    s = relay_settings(settings, sink.port, retry_minutes=[0, 0])
    campaign = _launch(session, s)
    run_worker_until(s, engine, _completed(engine, campaign.id))
    bob = _rows(engine, campaign.id)["bob@x.test"]
    assert bob.state == "expired" and bob.attempts == 3
    with Session(engine) as sess:
        bounce = sess.execute(select(Bounce)).scalars().one()
    assert (bounce.email, bounce.hard, bounce.source, bounce.delivery_id) == ("bob@x.test", False, "expiry", bob.id)


def test_5xx_fails_with_a_bounce_record_and_suppression(settings, engine, session, sink):
    sink.sink.rcpt_script["bob@x.test"] = ["550 5.1.1 <bob@x.test>: Recipient address rejected: User unknown"]
    s = relay_settings(settings, sink.port)
    campaign = _launch(session, s)
    run_worker_until(s, engine, _completed(engine, campaign.id))
    bob = _rows(engine, campaign.id)["bob@x.test"]
    assert bob.state == "failed" and bob.last_reply_code == 550
    with Session(engine) as sess:
        bounce = sess.execute(select(Bounce)).scalars().one()
        suppression = sess.execute(select(Suppression)).scalars().one()
    assert (bounce.hard, bounce.source, bounce.status, bounce.delivery_id) == (True, "smtp", "5.1.1", bob.id)
    assert (suppression.email_key, suppression.reason) == ("bob@x.test", "bounced")
    assert bounce.suppression_id == suppression.id


def test_421_and_a_dropped_connection_back_off_and_then_send_the_message_in_flight(settings, engine, session, sink):
    sink.sink.rcpt_script["ann@x.test"] = ["421 4.7.0 too many connections, closing"]
    sink.sink.drop_data_for.add("bob@x.test")
    s = relay_settings(settings, sink.port, smtp_connections=1, relay_backoff_seconds=0.2, relay_backoff_max_seconds=1)
    campaign = _launch(session, s)
    run_worker_until(s, engine, _completed(engine, campaign.id))
    assert sink.sink.counts() == {"ann@x.test": 1, "bob@x.test": 1, "cy@x.test": 1}
    rows = _rows(engine, campaign.id)
    # the relay's trouble, not the recipients': no attempt used up, nothing deferred on the 15-minute schedule
    assert {r.state for r in rows.values()} == {"sent"} and {r.attempts for r in rows.values()} == {1}


def test_wrong_password_pauses_the_campaign_with_the_reason(settings, engine, session):
    session.add(WebhookEndpoint(url="http://127.0.0.1:9/hook", events=["campaign.paused"], secret="s"))
    session.commit()
    with SinkServer(Sink(), users={"noreply": "right"}) as server:
        s = relay_settings(settings, server.port, smtp_username="noreply", smtp_password="wrong")
        campaign = _launch(session, s)
        run_worker_until(s, engine, lambda: campaign_state(engine, campaign.id) == "paused")
    with Session(engine) as sess:
        paused = sess.get(Campaign, campaign.id)
    assert "535" in paused.paused_reason and "authentication failed" in paused.paused_reason
    assert "wrong" not in paused.paused_reason
    assert all(r.state == "queued" and r.attempts == 0 for r in _rows(engine, campaign.id).values())
    with Session(engine) as sess:  # a CMS hears of it: the campaign.paused event, cause relay
        [event] = sess.execute(select(WebhookEvent).where(WebhookEvent.type == "campaign.paused")).scalars()
    assert event.data["cause"] == "relay" and event.data["reason"] == paused.paused_reason
    assert event.data["guard"] is None


def test_paused_campaign_is_not_sent_and_resume_continues_from_the_ledger(settings, engine, session, sink):
    s = relay_settings(settings, sink.port)
    campaign = _launch(session, s)
    service.pause(campaign, utcnow())
    session.add(campaign)
    session.commit()
    run_worker_until(s, engine, lambda: True)
    assert sink.sink.accepted == []
    with Session(engine) as sess:  # one already sent before the pause must not go again
        sess.execute(Delivery.__table__.update().where(Delivery.email == "ann@x.test").values(state="sent"))
        sess.commit()
    service.resume(session, campaign, settings, utcnow())
    session.commit()
    run_worker_until(s, engine, _completed(engine, campaign.id))
    assert sink.sink.counts() == {"bob@x.test": 1, "cy@x.test": 1}


def test_scheduled_campaign_starts_at_its_send_time(settings, engine, session, sink):
    s = relay_settings(settings, sink.port)
    campaign = _launch(session, s, send_at=utcnow() + timedelta(seconds=1))
    assert campaign.state == "scheduled" and _rows(engine, campaign.id) == {}
    run_worker_until(s, engine, _completed(engine, campaign.id))
    assert sum(sink.sink.counts().values()) == 3


def test_an_address_suppressed_after_launch_is_not_sent(settings, engine, session, sink):
    s = relay_settings(settings, sink.port)
    campaign = _launch(session, s)
    session.add(Suppression(email="bob@x.test", email_key="bob@x.test", reason="unsubscribed", source="one-click"))
    session.commit()
    run_worker_until(s, engine, _completed(engine, campaign.id))
    assert sink.sink.counts() == {"ann@x.test": 1, "cy@x.test": 1}
    bob = _rows(engine, campaign.id)["bob@x.test"]
    assert bob.state == "cancelled" and bob.attempts == 0 and "unsubscribed" in bob.last_reply


def test_a_contact_who_left_the_campaigns_list_after_launch_is_not_sent(settings, engine, session, sink):
    """Bob leaves the campaign's list after launch and is not sent; Cy left another list, and is."""
    s = relay_settings(settings, sink.port)
    campaign = _launch(session, s)
    [list_id] = campaign.list_ids
    other = MailingList(name="other")
    session.add(other)
    session.flush()
    session.add(Suppression(email="bob@x.test", email_key="bob@x.test", reason="unsubscribed", list_id=list_id))
    session.add(Suppression(email="cy@x.test", email_key="cy@x.test", reason="unsubscribed", list_id=other.id))
    session.commit()
    run_worker_until(s, engine, _completed(engine, campaign.id))
    assert sink.sink.counts() == {"ann@x.test": 1, "cy@x.test": 1}
    bob = _rows(engine, campaign.id)["bob@x.test"]
    assert bob.state == "cancelled" and bob.last_reply == "not sent: unsubscribed from this list after launch"


def test_a_throttled_send_longer_than_the_lease_keeps_its_rows_and_sends_each_once(settings, engine, session, sink):
    import threading
    import time

    from app.sending.worker import run_worker
    from tests.sending.conftest import bulk_list

    list_id = bulk_list(engine, "many", 80, domain="x.test")
    campaign = make_campaign(session, [list_id], html_template="<p>{{ first_name }}</p>", text_template="")
    # two workers, 40 messages per second each, 40-row batches: a batch takes 1 s, the lease is 1 s
    s = relay_settings(settings, sink.port, smtp_rate=40.0, worker_batch=40, worker_lease_seconds=1)
    service.launch(session, campaign, s, utcnow())
    session.commit()
    stop = threading.Event()
    threads = [threading.Thread(target=run_worker, args=(s, engine, stop), daemon=True) for _ in range(2)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 30
    try:
        while campaign_state(engine, campaign.id) != "completed":
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    counts = sink.sink.counts()
    assert len(counts) == 80 and set(counts.values()) == {1}

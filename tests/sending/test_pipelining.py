"""Pipelined sending (RFC 2920): a message's content goes in one write with the next message's commands,
and the replies come back together. Each reply still lands on its own recipient's row, and a line
dropped in the middle of the stream loses and doubles nothing."""

import pytest
from sqlalchemy import select
from sqlmodel import Session

from app.models import Bounce, Campaign, Delivery, DeliveryAttempt, utcnow
from app.sending import campaigns as service
from app.sending.compose import Envelope
from app.sending.relay import ConnectionLost, RelayConnection, Reply
from tests.sending.conftest import campaign_state, make_campaign, make_list, relay_settings, run_worker_until
from tests.sending.sink import Sink, SinkServer

PEOPLE = [(f"p{i}@x.test", f"P{i}", {"city": "Oslo"}) for i in range(10)]
EVERYONE = {email: 1 for email, _, _ in PEOPLE}


@pytest.fixture(params=[True, False], ids=["pipelining", "lock-step"])
def relay(request):  # type: ignore[no-untyped-def]
    with SinkServer(Sink(pipelining=request.param)) as server:
        yield server


def _launch(session: Session, settings) -> Campaign:  # type: ignore[no-untyped-def]
    campaign = make_campaign(session, [make_list(session, "all", PEOPLE).id])
    service.launch(session, campaign, settings, utcnow())
    session.commit()
    return campaign


def _rows(engine, campaign_id: int) -> dict[str, Delivery]:  # type: ignore[no-untyped-def]
    with Session(engine) as s:
        return {d.email: d for d in s.execute(select(Delivery).where(Delivery.campaign_id == campaign_id)).scalars()}


def _attempts(engine, delivery_id: int) -> list[tuple[str, int]]:  # type: ignore[no-untyped-def]
    with Session(engine) as s:
        return [
            (o, c)
            for o, c in s.execute(
                select(DeliveryAttempt.outcome, DeliveryAttempt.reply_code)
                .where(DeliveryAttempt.delivery_id == delivery_id)
                .order_by(DeliveryAttempt.id)  # type: ignore[arg-type]
            ).all()
        ]


def _message(rcpt: str) -> Envelope:
    data = f"Subject: hi\r\n\r\nhello {rcpt}\r\n".encode()
    return Envelope("bounces@example.test", rcpt, data, None, None, f"<{rcpt}>")


def test_one_pipelined_stream_gives_each_message_its_own_reply(settings) -> None:
    sink = Sink(pipelining=True, rcpt_script={"p1@x.test": ["451 4.7.1 Greylisted"], "p2@x.test": ["550 5.1.1 no"]})
    with SinkServer(sink) as server:
        conn = RelayConnection(relay_settings(settings, server.port))
        try:
            results = conn.send_many([_message(f"p{i}@x.test") for i in range(5)])
            assert conn.pipelining and conn.sent_on_connection == 3
            again = conn.send_many([_message("p5@x.test")])  # the connection is left ready for more
        finally:
            conn.close()
    assert [(r.code, r.stage) for r in results if isinstance(r, Reply)] == [
        (250, "data"),
        (451, "rcpt"),
        (550, "rcpt"),
        (250, "data"),
        (250, "data"),
    ]
    assert isinstance(again[0], Reply) and again[0].code == 250
    assert sorted(a.rcpt for a in sink.accepted) == ["p0@x.test", "p3@x.test", "p4@x.test", "p5@x.test"]


def test_a_line_dropped_mid_stream_stops_at_the_message_in_flight(settings) -> None:
    sink = Sink(pipelining=True, drop_data_for={"p2@x.test"})
    with SinkServer(sink) as server:
        conn = RelayConnection(relay_settings(settings, server.port))
        try:
            results = conn.send_many([_message(f"p{i}@x.test") for i in range(5)])
        finally:
            conn.close()
    assert [type(r).__name__ for r in results] == ["Reply", "Reply", "ConnectionLost", "NoneType", "NoneType"]
    assert isinstance(results[2], ConnectionLost) and conn.smtp is None
    assert [a.rcpt for a in sink.accepted] == ["p0@x.test", "p1@x.test"]


def test_a_4xx_and_a_5xx_in_one_batch_are_each_recorded_on_their_row(settings, engine, session, relay):
    relay.sink.rcpt_script["p3@x.test"] = ["451 4.7.1 Greylisted, try again later"]
    relay.sink.rcpt_script["p6@x.test"] = ["550 5.1.1 <p6@x.test>: Recipient address rejected: User unknown"]
    s = relay_settings(settings, relay.port, smtp_connections=1, retry_minutes=[0, 0])
    campaign = _launch(session, s)
    run_worker_until(s, engine, lambda: campaign_state(engine, campaign.id) == "completed")

    assert relay.sink.counts() == {k: n for k, n in EVERYONE.items() if k != "p6@x.test"}
    rows = _rows(engine, campaign.id)
    assert rows["p3@x.test"].state == "sent" and _attempts(engine, rows["p3@x.test"].id) == [
        ("deferred", 451),
        ("sent", 250),
    ]
    assert rows["p6@x.test"].state == "failed" and _attempts(engine, rows["p6@x.test"].id) == [("failed", 550)]
    others = [r for e, r in rows.items() if e not in ("p3@x.test", "p6@x.test")]
    assert {(r.state, r.attempts, r.last_reply_code) for r in others} == {("sent", 1, 250)}
    with Session(engine) as sess:
        bounce = sess.execute(select(Bounce)).scalars().one()
    assert (bounce.email, bounce.hard, bounce.delivery_id) == ("p6@x.test", True, rows["p6@x.test"].id)


def test_a_connection_dropped_mid_batch_loses_and_doubles_nothing(settings, engine, session, relay):
    relay.sink.drop_data_for.add("p4@x.test")  # closes the line instead of answering this message's content
    relay.sink.rcpt_script["p7@x.test"] = ["421 4.7.0 too busy, closing"]
    s = relay_settings(settings, relay.port, smtp_connections=1, relay_backoff_seconds=0.2, relay_backoff_max_seconds=1)
    campaign = _launch(session, s)
    run_worker_until(s, engine, lambda: campaign_state(engine, campaign.id) == "completed")

    assert relay.sink.counts() == EVERYONE
    rows = _rows(engine, campaign.id)
    # the relay's trouble, not the recipients': no attempt used up
    assert {(r.state, r.attempts) for r in rows.values()} == {("sent", 1)}

"""Pacing per receiving domain against the real Postfix relay: one domain throttles (421 or 450 4.7.1
at RCPT), the other accepts; the throttled one waits in the ledger and finishes later, the other is not
held up, and every recipient gets exactly one message. The same with two stored relays (both the
Postfix): the domain's pause holds on each of them, and neither counts as down for it."""

from collections import Counter

import pytest
from pydantic import SecretStr
from sqlalchemy import Engine, select
from sqlmodel import Session, col

from app.models import Delivery, PacingState, Relay, utcnow
from app.sending import campaigns as service
from app.sending import relays
from app.sending.relay_schemas import RelayCreate
from tests.sending.conftest import campaign_state, make_campaign, make_list, worker_running
from tests.support.polling import wait_for
from tests.web.conftest import Browser, web  # noqa: F401  # the signed-in page fixture

pytestmark = pytest.mark.mailstack

NOREPLY = "noreply@example.test"
FAST = [f"pace{i}@example.test" for i in range(20)]
SLOW = [f"pace{i}@slow.test" for i in range(20)]
# a 421 closes the session (Postfix disconnects after it); a 450 4.7.1 keeps it
THROTTLES = ["421 4.7.0 Too many messages, slow down", "450 4.7.1 Too many messages, slow down"]
# where the worker's relay comes from: the settings, or two stored relays sharing the campaign
RELAYS = ["settings", "two stored"]


def _relay(settings, mail):  # type: ignore[no-untyped-def]
    return settings.model_copy(update={
        "smtp_host": mail.host, "smtp_port": mail.submission_port, "smtp_security": "starttls",
        "smtp_cafile": mail.cafile, "smtp_username": NOREPLY, "smtp_password": SecretStr(mail.users[NOREPLY]),
        "worker_poll_seconds": 0.05, "smtp_timeout": 10.0, "smtp_connections": 2, "worker_batch": 10,
        "relay_backoff_seconds": 0.5, "pacing_backoff_seconds": 1.0, "pacing_min_rate": 1.0, "pacing_backoff_max_seconds": 2.0, "dns_server": "127.0.0.1:9",
    })  # fmt: skip


def _rows(engine: Engine, campaign_id: int) -> list[Delivery]:
    with Session(engine) as s:
        return list(s.execute(select(Delivery).where(col(Delivery.campaign_id) == campaign_id)).scalars())


def _state(engine: Engine, key: str) -> PacingState | None:
    with Session(engine) as s:
        return s.get(PacingState, key)


def _store_two_relays(session: Session, settings, mail) -> None:  # type: ignore[no-untyped-def]
    for name in ("first", "second"):
        body = RelayCreate(name=name, host=mail.host, port=mail.submission_port, security="starttls",
                           username=NOREPLY, password=mail.users[NOREPLY], connections=2)  # fmt: skip
        relays.create(session, settings, body)
    session.commit()


@pytest.mark.parametrize("where", RELAYS)
@pytest.mark.parametrize("throttle", THROTTLES, ids=["421", "450"])
def test_a_throttling_domain_waits_and_finishes_later_while_the_other_goes_at_full_speed(
    throttle: str,
    where: str,
    mail,  # type: ignore[no-untyped-def]
    settings,
    engine,
    session,
    web: Browser,  # noqa: F811
) -> None:
    s = _relay(settings, mail)
    mail.add_mailboxes(FAST + SLOW)
    mail.clear_mailboxes()  # these mailboxes may hold an earlier session's messages
    mail.answer_recipients({"slow.test": throttle})
    if where == "two stored":
        _store_two_relays(session, s, mail)
    people = [(a, "P", {"city": "Oslo"}) for pair in zip(SLOW, FAST, strict=True) for a in pair]  # interleaved
    lst = make_list(session, "both domains", people)
    campaign = make_campaign(session, [lst.id], from_address=NOREPLY)
    service.launch(session, campaign, s, utcnow())
    session.commit()

    def fast_done_slow_throttled() -> bool:
        st = _state(engine, "slow.test")
        rows = _rows(engine, campaign.id)
        return st is not None and st.throttles >= 1 and all(r.state == "sent" for r in rows if r.email in FAST)

    with worker_running(s, engine):
        wait_for(fast_done_slow_throttled, 120, "the accepting domain sent while the other one throttles")
        held = [r for r in _rows(engine, campaign.id) if r.email in SLOW]
        assert all(r.state != "sent" for r in held)  # the throttled domain has sent nothing yet
        page = web.get(f"/campaigns/{campaign.id}").text
        assert "Receiving domains being slowed" in page and "slow.test" in page and "Too many messages" in page
        mail.answer_recipients({})  # the receiver takes mail again
        mail.restart_postfix()  # and a session opened while it throttled ends (a 450 keeps it open)
        wait_for(lambda: campaign_state(engine, campaign.id) == "completed", 180, "the campaign to complete")

    rows = _rows(engine, campaign.id)
    assert {r.state for r in rows} == {"sent"}
    # throttling is the receiver's pace, not the recipient's failure: no attempt of the retry schedule spent
    assert {r.attempts for r in rows} == {1}
    fast_sent = [r.sent_at for r in rows if r.email in FAST]
    slow_sent = [r.sent_at for r in rows if r.email in SLOW]
    assert max(fast_sent) <= min(slow_sent)  # type: ignore[type-var]  # every row is sent
    slowed = _state(engine, "slow.test")
    assert slowed is not None and slowed.rate is not None and slowed.rate < s.pacing_restart_rate
    assert slowed.last_reply is not None and throttle[:3] in slowed.last_reply
    fast = _state(engine, "example.test")
    assert fast is None or (fast.throttles == 0 and fast.rate is None)
    # exactly one message in each mailbox: nothing lost, no duplicates
    mail.wait_queue_empty(timeout=30)
    delivered = Counter({a: len(mail.wait_for_messages(a, 1, timeout=30)) for a in FAST + SLOW})
    assert set(delivered.values()) == {1}, delivered
    if where == "two stored":  # a domain's throttling is not its relay's outage
        with Session(engine) as check:
            states = {r.name: relays.public(r).state for r in check.exec(select(Relay)).scalars()}
        assert states == {"first": "up", "second": "up"}

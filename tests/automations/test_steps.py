"""The other triggers and steps: a segment entered (and left), a date field reaching today, a branch on a field,
a list joined and left, a webhook called with a signed event of its own."""

from sqlalchemy import select, update
from sqlmodel import Session, col

from app.audience import fields
from app.audience.segments import store as segments
from app.automations.advance import enter_on_event, sweep
from app.models import Contact, ListMember, MailingList, WebhookDelivery, WebhookEndpoint, WebhookEvent, utcnow
from tests.automations.support import automation, ledger_rows, position, template, time_passes


def _people(engine) -> None:  # type: ignore[no-untyped-def]
    today = utcnow().date().isoformat()
    with Session(engine) as s:
        fields.define(s, "plan", "Plan", "text")
        fields.define(s, "renewal", "Renewal", "date")
        s.add_all([
            Contact(email="pro@example.test", email_key="pro@example.test", attributes={"plan": "pro", "renewal": today}),
            Contact(email="free@example.test", email_key="free@example.test", attributes={"plan": "free"}),
        ])  # fmt: skip
        s.commit()


def test_a_segment_trigger_takes_its_members_and_lets_leavers_go(settings, engine) -> None:  # type: ignore[no-untyped-def]
    _people(engine)
    with Session(engine) as s:
        segment = segments.create(s, "Paying", "plan = 'pro'")
        s.commit()
        segment_id = segment.id
    hello = template(engine, "Hi", "Hi", "Hi")
    steps = [("send", {"template_id": hello}), ("wait", {"days": 1}), ("send", {"template_id": hello})]
    automation(engine, settings, steps, trigger="segment_entered", segment_id=segment_id)
    assert sweep(engine).entered == 1
    with Session(engine) as s:  # the contact leaves the segment while waiting
        s.execute(update(Contact).values(attributes={"plan": "free"}))
        s.commit()
    time_passes(engine)
    assert sweep(engine).exited == 1
    assert position(engine, "pro@example.test").exit_reason == "left the segment"
    assert len(ledger_rows(engine)) == 1


def test_a_date_field_reaching_today_starts_it_and_a_branch_on_a_field_steers(settings, engine) -> None:  # type: ignore[no-untyped-def]
    _people(engine)
    with Session(engine) as s:
        vip = MailingList(name="VIP")
        s.add(vip)
        s.commit()
        vip_id = vip.id
    hello = template(engine, "Renew", "Time to renew", "Renew")
    steps = [
        ("branch", {"on": "field", "field": "plan", "value": "pro", "else": "exit"}),
        ("list_add", {"list_id": vip_id}),
        ("send", {"template_id": hello}),
        ("list_remove", {"list_id": vip_id}),
    ]
    automation(engine, settings, steps, trigger="date_reached", field="renewal")
    swept = sweep(engine)
    assert (swept.entered, swept.advanced) == (1, 4)  # only the renewal due today; every step at once
    assert [r.email for r in ledger_rows(engine)] == ["pro@example.test"]
    pro = position(engine, "pro@example.test")
    assert pro.state == "done" and pro.history.count(";") == 4
    with Session(engine) as s:  # added, then removed again
        assert s.execute(select(ListMember).where(col(ListMember.list_id) == vip_id)).first() is None


def test_a_webhook_step_stores_one_signed_event_for_its_endpoint_alone(settings, engine) -> None:  # type: ignore[no-untyped-def]
    _people(engine)
    with Session(engine) as s:
        mine = WebhookEndpoint(url="https://crm.example/hook", events=[], secret="s1")
        other = WebhookEndpoint(url="https://other.example/hook", events=["automation.step"], secret="s2")
        s.add_all([mine, other])
        s.commit()
        mine_id = mine.id
    automation(engine, settings, [("webhook", {"endpoint_id": mine_id})], trigger="event", event="signed_up")
    with Session(engine) as s:
        assert enter_on_event(s, "signed_up", "free@example.test", utcnow())
        s.commit()
    sweep(engine)
    sweep(engine)
    with Session(engine) as s:
        [(endpoint, data)] = s.execute(
            select(col(WebhookDelivery.endpoint_id), col(WebhookEvent.data)).join(
                WebhookEvent, col(WebhookEvent.id) == WebhookDelivery.event_id
            )
        ).all()
    assert endpoint == mine_id and data["email"] == "free@example.test"

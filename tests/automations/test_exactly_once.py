"""A contact never gets a step twice: sweeping again, a sweep whose moves were lost (a restart), and two sweeps
running at once (PostgreSQL: each claims with SKIP LOCKED; SQLite: one writer at a time) all leave one ledger row
per contact and send step."""

import threading
from collections import Counter

from sqlalchemy import func, select, update
from sqlmodel import Session, col

from app.automations.advance import sweep
from app.models import AutomationPosition, AutomationStep, Delivery, ListMember, utcnow
from tests.automations.support import automation, ledger_rows, template, time_passes
from tests.sending.conftest import bulk_list

PEOPLE = 300


def _series(engine, settings) -> tuple[int, list[int]]:  # type: ignore[no-untyped-def]
    """Everyone on a list joins it after the automation is active, so all of them enter."""
    list_id = bulk_list(engine, "Members", PEOPLE)
    first, second = template(engine, "One", "One", "1"), template(engine, "Two", "Two", "2")
    steps = [("send", {"template_id": first}), ("wait", {"days": 1}), ("send", {"template_id": second})]
    automation_id = automation(engine, settings, steps, trigger="list_joined", list_id=list_id)
    with Session(engine) as s:
        s.execute(update(ListMember).values(added_at=utcnow()))  # they joined now, after the activation
        s.commit()
        campaigns = s.execute(
            select(col(AutomationStep.campaign_id))
            .where(col(AutomationStep.kind) == "send")
            .order_by(col(AutomationStep.position))
        ).scalars()
        return automation_id, [c for c in campaigns if c is not None]


def _per_campaign(engine) -> Counter[int]:  # type: ignore[no-untyped-def]
    rows = ledger_rows(engine)
    assert len({(r.campaign_id, r.email_key) for r in rows}) == len(rows)
    return Counter(r.campaign_id for r in rows)


def test_sweeping_again_or_after_lost_moves_sends_no_step_twice(settings, engine) -> None:  # type: ignore[no-untyped-def]
    _, (one, two) = _series(engine, settings)
    first = sweep(engine, batch=64)
    assert (first.entered, first.advanced) == (PEOPLE, PEOPLE)
    assert sweep(engine, batch=64).advanced == 0
    assert _per_campaign(engine) == {one: PEOPLE}
    with Session(engine) as s:  # as if the moves of the first sweep were lost: everyone is back at the first step
        first_step = s.execute(select(func.min(AutomationStep.id))).scalar_one()
        s.execute(update(AutomationPosition).values(step_id=first_step, due_at=utcnow()))
        s.commit()
    assert sweep(engine, batch=64).advanced == PEOPLE  # they move on again ...
    assert _per_campaign(engine) == {one: PEOPLE}  # ... without a second message
    time_passes(engine)
    sweep(engine, batch=64)
    assert _per_campaign(engine) == {one: PEOPLE, two: PEOPLE}


def test_two_sweeps_at_once_send_each_step_once(settings, engine) -> None:  # type: ignore[no-untyped-def]
    _, (one, two) = _series(engine, settings)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            sweep(engine, batch=32)
        except BaseException as exc:  # a failed sweep must fail the test, not vanish with its thread
            errors.append(exc)

    for _ in range(2):  # the entry and the first step; then the second after the wait
        threads = [threading.Thread(target=run) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert not errors, errors
        time_passes(engine)
    assert _per_campaign(engine) == {one: PEOPLE, two: PEOPLE}
    with Session(engine) as s:
        trails = s.execute(select(col(AutomationPosition.history))).scalars().all()
        assert {len(t.split(";")) - 1 for t in trails} == {2}  # each message once (a wait is no step carried out)
        states = s.execute(select(col(AutomationPosition.state), func.count()).group_by(col(AutomationPosition.state)))
        assert dict(states.tuples().all()) == {"done": PEOPLE}
        assert s.execute(select(func.count()).select_from(Delivery)).scalar_one() == 2 * PEOPLE

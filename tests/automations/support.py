"""Automations as the tests build them: library templates, an automation with its steps, a contact's position,
and "time passes" (a position's wait made due)."""

from typing import Any

from sqlalchemy import Engine, select, update
from sqlmodel import Session, col

from app.automations import store
from app.automations.schemas import AutomationCreate
from app.models import AutomationPosition, Contact, Delivery, MessageTemplate, utcnow
from app.settings import Settings


def template(engine: Engine, name: str, subject: str, text: str) -> int:
    with Session(engine) as s:
        row = MessageTemplate(name=name, subject=subject, text_template=text, html_template=f"<p>{text}</p>")
        s.add(row)
        s.commit()
        assert row.id is not None
        return row.id


def automation(engine: Engine, settings: Settings, steps: list[tuple[str, dict[str, Any]]], **fields: Any) -> int:
    """An active automation with these (kind, options) steps."""
    with Session(engine, expire_on_commit=False) as s:
        made = store.create(
            s, AutomationCreate(**{"name": "Welcome", "from_address": "noreply@example.test", **fields})
        )
        for kind, options in steps:
            store.add_step(s, made, kind, options, settings)
        store.switch(s, made, "active")
        s.commit()
        assert made.id is not None
        return made.id


def welcome_series(engine: Engine, settings: Settings, **trigger: Any) -> int:
    """Three messages two days and one day apart."""
    first = template(engine, "Welcome 1", "Welcome, {{ first_name }}", "One for {{ first_name }}")
    second = template(engine, "Welcome 2", "Getting started", "Two")
    third = template(engine, "Welcome 3", "Our best tips", "Three")
    series = [("send", {"template_id": first}), ("wait", {"days": 2}), ("send", {"template_id": second}),
              ("wait", {"days": 1}), ("send", {"template_id": third})]  # fmt: skip
    return automation(engine, settings, series, **trigger)


def time_passes(engine: Engine) -> None:
    """Every wait is over: the positions waiting are due now."""
    with Session(engine) as s:
        s.execute(update(AutomationPosition).where(col(AutomationPosition.state) == "active").values(due_at=utcnow()))
        s.commit()


def position(engine: Engine, address: str) -> AutomationPosition:
    with Session(engine) as s:
        return s.execute(
            select(AutomationPosition)
            .join(Contact, col(Contact.id) == AutomationPosition.contact_id)
            .where(col(Contact.email_key) == address)
        ).scalar_one()


def ledger_rows(engine: Engine, address: str | None = None) -> list[Delivery]:
    with Session(engine) as s:
        query = select(Delivery).order_by(col(Delivery.id))
        if address is not None:
            query = query.where(col(Delivery.email_key) == address)
        return list(s.execute(query).scalars())

"""Helpers for the sending tests: an audience in the database, a recording SMTP sink, a worker run."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from datetime import datetime

import pytest
from pydantic import SecretStr
from sqlalchemy import Engine
from sqlmodel import Session

from app.models import Campaign, Contact, ListMember, MailingList
from app.settings import Settings
from tests.sending.sink import Sink, SinkServer

SIMPLE_HTML = '<p>Hello {{ first_name }} from {{ city }}</p><a href="{{ unsubscribe_url }}">unsubscribe</a>'
SIMPLE_TEXT = "Hello {{ first_name }} from {{ city }}\nUnsubscribe: {{ unsubscribe_url }}\n"


def make_list(session: Session, name: str, people: list[tuple[str, str, dict]]) -> MailingList:
    """A list of (email, first_name, attributes) contacts."""
    lst = MailingList(name=name)
    session.add(lst)
    session.flush()
    for email, first, attrs in people:
        contact = Contact(email=email, email_key=email.lower(), first_name=first, attributes=attrs)
        session.add(contact)
        session.flush()
        session.add(ListMember(list_id=lst.id, contact_id=contact.id, source="api"))
    session.commit()
    return lst


def bulk_list(engine: Engine, name: str, n: int, domain: str = "sink.test") -> int:
    """A list of n contacts inserted fast; returns its id."""
    with Session(engine) as session:
        lst = MailingList(name=name)
        session.add(lst)
        session.commit()
        list_id = lst.id
    from sqlalchemy import insert, select

    with engine.begin() as conn:
        conn.execute(
            insert(Contact),
            [{"email": f"r{i}@{domain}", "email_key": f"r{i}@{domain}", "first_name": f"R{i}", "attributes": {},
              "is_role": False} for i in range(n)],
        )  # fmt: skip
        ids = conn.execute(select(Contact.id).where(Contact.email_key.like(f"%@{domain}"))).scalars().all()
        conn.execute(insert(ListMember), [{"list_id": list_id, "contact_id": i, "source": "api"} for i in ids])
    return list_id


def make_campaign(session: Session, list_ids: list[int], **kw) -> Campaign:  # type: ignore[no-untyped-def]
    fields = dict(name="Spring news", from_name="Shop Team", from_address="news@example.test",
                  subject="Hi {{ first_name }}", html_template=SIMPLE_HTML, text_template=SIMPLE_TEXT,
                  list_ids=list_ids)  # fmt: skip
    fields.update(kw)
    campaign = Campaign(**fields)
    session.add(campaign)
    session.commit()
    return campaign


def relay_settings(settings: Settings, port: int, **kw) -> Settings:  # type: ignore[no-untyped-def]
    update = dict(smtp_host="127.0.0.1", smtp_port=port, smtp_security="none", smtp_username=None,
                  smtp_password=None, smtp_timeout=5.0, worker_poll_seconds=0.05, smtp_connections=2)  # fmt: skip
    update.update(kw)
    if isinstance(update.get("smtp_password"), str):
        update["smtp_password"] = SecretStr(update["smtp_password"])
    return settings.model_copy(update=update)


@pytest.fixture
def sink() -> Iterator[SinkServer]:
    with SinkServer(Sink()) as server:
        yield server


class SetClock:
    """A clock a test sets and moves (the worker's `clock`): it reads the time last set."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


@contextlib.contextmanager
def worker_running(settings: Settings, engine: Engine, clock: SetClock | None = None) -> Iterator[None]:
    """The real worker loop in a thread for the duration of the block (on CLOCK's time when given)."""
    from app.sending.worker import run_worker

    stop = threading.Event()
    args = (settings, engine, stop) if clock is None else (settings, engine, stop, clock)
    thread = threading.Thread(target=run_worker, args=args, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=30)


def run_worker_until(settings: Settings, engine: Engine, done, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    """Run the real worker loop in a thread until done() is true (or fail after timeout)."""
    deadline = time.monotonic() + timeout
    with worker_running(settings, engine):
        while not done():
            assert time.monotonic() < deadline, "worker did not finish in time"
            time.sleep(0.05)


def campaign_state(engine: Engine, campaign_id: int) -> str:
    with Session(engine) as s:
        c = s.get(Campaign, campaign_id)
        assert c is not None
        return c.state

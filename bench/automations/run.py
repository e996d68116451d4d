"""Automations benchmark: a welcome series (send, wait two days, send) over a list of a million contacts whose
addresses are in random order (bench/launch/steps.py's shape), 1 % of them suppressed. Times the sweep in which
everyone enters and gets the first message (a ledger row each), and, after the wait is made due, the sweep that
takes everyone through the wait to the second message. Each sweep advances every due position. Beside them, in
the same run, the floor: the ledger write a campaign launch to the same contacts makes (app.audience.compile).

    .venv/bin/python -m bench.automations.run [--contacts 1000000] [--backends postgresql,sqlite]

PostgreSQL: a scratch database `automations_bench` on BULKMAIL_BENCH_POSTGRES (default
postgresql+psycopg://postgres@127.0.0.1:5432/postgres), dropped and created for the run and dropped after.
Prints a Markdown table for bench/RESULTS.md."""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import BigInteger, cast, func, insert, literal, select, text, update
from sqlmodel import Session

from app.audience.compile import write_ledger
from app.audience.store import ContactRow, insert_contacts
from app.automations import store
from app.automations.advance import sweep
from app.automations.schemas import AutomationCreate
from app.db import make_engine
from app.migrate import upgrade
from app.models import (
    AutomationPosition,
    Campaign,
    Contact,
    Delivery,
    ListMember,
    MailingList,
    MessageTemplate,
    Suppression,
    utcnow,
)
from app.models.types import UTCDateTime
from app.settings import Settings
from bench.audience.run import ADMIN_URL, fresh_database
from bench.launch.steps import addresses

BENCH_DB = "automations_bench"


def build(url: str, contacts: int) -> None:
    engine = make_engine(url)
    upgrade(engine)
    now = utcnow()
    with Session(engine) as session:
        emails = addresses(contacts)
        for start in range(0, contacts, 50_000):
            insert_contacts(session, [ContactRow(e, e.lower()) for e in emails[start : start + 50_000]], now)
            session.commit()
        members = MailingList(name="Newsletter")
        session.add(members)
        templates = [
            MessageTemplate(name=f"Welcome {i}", subject=f"Welcome {i}", text_template="Hello {{ first_name }}")
            for i in (1, 2)
        ]
        session.add_all(templates)
        session.commit()
        settings = Settings(_env_file=None, database_url=url, base_url="http://bench.example")
        automation = store.create(
            session,
            AutomationCreate(
                name="Welcome", trigger="list_joined", list_id=members.id, from_address="news@bench.example"
            ),
        )
        for kind, options in (
            ("send", {"template_id": templates[0].id}),
            ("wait", {"days": 2}),
            ("send", {"template_id": templates[1].id}),
        ):
            store.add_step(session, automation, kind, options, settings)
        store.switch(session, automation, "active")
        session.commit()
        later = literal(utcnow(), UTCDateTime())  # they join after the activation
        rows = select(literal(members.id), Contact.id, literal("form"), later)
        session.execute(insert(ListMember).from_select(["list_id", "contact_id", "source", "added_at"], rows))
        gone = select(Contact.email, Contact.email_key, literal("unsubscribed"), literal(utcnow(), UTCDateTime()))
        session.execute(
            insert(Suppression).from_select(
                ["email", "email_key", "reason", "created_at"],
                gone.where(cast(Contact.id, BigInteger) * 7919 % 100 == 0),
            )
        )
        session.commit()
        if engine.dialect.name == "postgresql":
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM ANALYZE"))
    engine.dispose()


def _count(engine, model) -> int:  # type: ignore[no-untyped-def]
    with Session(engine) as s:
        return int(s.execute(select(func.count()).select_from(model)).scalar_one())


def measure(url: str) -> dict[str, float | int]:
    engine = make_engine(url)
    began = time.perf_counter()
    first = sweep(engine)
    first_s = time.perf_counter() - began
    sent_first = _count(engine, Delivery)
    with Session(engine) as s:  # two days pass
        s.execute(update(AutomationPosition).where(AutomationPosition.state == "active").values(due_at=utcnow()))
        s.commit()
    began = time.perf_counter()
    second = sweep(engine)
    second_s = time.perf_counter() - began
    ledger_after_second = _count(engine, Delivery)
    with Session(engine) as s:  # the floor: the ledger write a launch to the same contacts makes
        floor = Campaign(name="floor", from_address="news@bench.example", subject="floor")
        s.add(floor)
        s.commit()
        began = time.perf_counter()
        write_ledger(s, floor.id or 0, Contact.id.in_(select(AutomationPosition.contact_id)), utcnow())
        s.commit()
        floor_s = time.perf_counter() - began
    out = {
        "floor_s": floor_s,
        "entered": first.entered,
        "exited": first.exited,
        "first_advanced": first.advanced,
        "first_s": first_s,
        "ledger_after_first": sent_first,
        "second_advanced": second.advanced,
        "second_s": second_s,
        "ledger_after_second": ledger_after_second,
    }
    engine.dispose()
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--backends", default="postgresql")
    a = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-automations-") as tmp:
        for backend in a.backends.split(","):
            url = fresh_database(backend, Path(tmp), "automations.db", BENCH_DB)
            build(url, a.contacts)
            load = os.getloadavg()[0]
            r = measure(url)
            print(f"{backend}: {r}", file=sys.stderr, flush=True)
            rows.append((backend, load, r))
            if backend == "postgresql":
                from sqlalchemy import create_engine

                admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
                with admin.connect() as conn:
                    conn.execute(text(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)"))
                admin.dispose()
    date = subprocess.run(["date", "-u", "+%Y-%m-%d %H:%M UTC"], capture_output=True, text=True).stdout.strip()
    print(f"\nMeasured {date}; command: `.venv/bin/python -m bench.automations.run --contacts {a.contacts} "
          f"--backends {a.backends}`\n")  # fmt: skip
    print("| database | contacts | load (1 min) | sweep 1: entered / left / moved | sweep 1 | ledger rows | "
          "sweep 2: moved | sweep 2 | ledger rows | floor: a launch's ledger write of all | sweep 2 / floor |")  # fmt: skip
    print("|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    for backend, load, r in rows:
        print(f"| {backend} | {a.contacts:,} | {load:.1f} | {r['entered']:,} / {r['exited']:,} / {r['first_advanced']:,} "
              f"| {r['first_s']:.1f} s | {r['ledger_after_first']:,} | {r['second_advanced']:,} | {r['second_s']:.1f} s "
              f"| {r['ledger_after_second']:,} | {r['floor_s']:.1f} s | {r['second_s'] / r['floor_s']:.2f} |")  # fmt: skip


if __name__ == "__main__":
    main()

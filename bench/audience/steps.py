"""One benchmark step per process (run by bench.audience.run; the import is the CLI itself); prints one JSON line.

python -m bench.audience.steps compile URL CONTACTS SUPPRESSIONS
"""

import json
import resource
import sys
import time
from datetime import timedelta

from sqlalchemy import case, func, insert, literal, select, text
from sqlmodel import Session

from app.audience.compile import compile_audience, freeze_into_ledger
from app.audience.store import ContactRow, insert_contacts
from app.db import make_engine
from app.migrate import upgrade
from app.models import Bounce, Campaign, Contact, ListMember, MailingList, Suppression, utcnow
from app.models.types import UTCDateTime
from app.settings import Settings


def _rss_mb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def _members(session: Session, list_id: int, where) -> None:  # type: ignore[no-untyped-def]
    now = literal(utcnow(), UTCDateTime())
    rows = select(literal(list_id), Contact.id, literal("csv"), now).where(where)
    session.execute(insert(ListMember).from_select(["list_id", "contact_id", "source", "added_at"], rows))


def run_compile(url: str, contacts: int, suppressions: int) -> dict:
    settings = Settings(_env_file=None, database_url=url)
    engine = make_engine(url)
    upgrade(engine)
    now = utcnow()
    with Session(engine) as session:
        for start in range(0, contacts, 50_000):
            rows = [
                ContactRow(f"c{i}@example.com", f"c{i}@example.com")
                for i in range(start, min(start + 50_000, contacts))
            ]
            insert_contacts(session, rows, now)
            session.commit()
        lists = [MailingList(name=n) for n in ("A", "B", "C")]
        session.add_all(lists)
        session.commit()
        a, b, c = (m.id for m in lists)
        # A: first 60 %, B: last 60 %, C: every third contact -> union is everyone, with overlaps
        _members(session, a, Contact.id <= contacts * 6 // 10)
        _members(session, b, Contact.id > contacts * 4 // 10)
        _members(session, c, Contact.id % 3 == 0)
        step = contacts // suppressions
        reason = case(
            (Contact.id % (4 * step) == 0, "unsubscribed"),
            (Contact.id % (4 * step) == step, "complained"),
            (Contact.id % (4 * step) == 2 * step, "manual"),
            else_="bounced",
        )
        picked = select(
            Contact.email, Contact.email_key, reason, literal("bench"), literal(""), literal(now, UTCDateTime())
        )
        session.execute(
            insert(Suppression).from_select(
                ["email", "email_key", "reason", "source", "note", "created_at"], picked.where(Contact.id % step == 0)
            )
        )
        bounced = select(
            literal("bounce"), literal("user_unknown"), literal(True), Contact.email, Contact.email_key,
            literal("5.1.1"), literal("550"), literal(""), literal(""), literal("verp"), literal("sweep"),
            literal(""), literal(now - timedelta(days=1), UTCDateTime()),
        ).where(Contact.id % 50 == 1)  # fmt: skip
        session.execute(
            insert(Bounce).from_select(
                ["kind", "reason", "hard", "email", "email_key", "status", "reply_code", "diagnostic", "remote_mta",
                 "attribution", "source", "evidence", "created_at"],
                bounced,
            )
        )  # fmt: skip
        campaign = Campaign(name="bench", from_address="news@example.test", subject="Bench")
        session.add(campaign)
        session.commit()
        campaign_id = campaign.id
        members = session.execute(select(func.count()).select_from(ListMember)).scalar()
        # statistics as a running database has them (autovacuum, or the import that loaded the contacts)
        session.execute(text("ANALYZE"))
        session.commit()
    with Session(engine) as session:
        start = time.perf_counter()
        counts = compile_audience(session, [a, b, c], settings, utcnow()).counts  # type: ignore[list-item]
        compile_s = time.perf_counter() - start
    with Session(engine) as session:
        start = time.perf_counter()
        freeze_into_ledger(session, campaign_id, [a, b, c], settings, utcnow(), utcnow())  # type: ignore[arg-type,list-item]
        session.commit()
        freeze_s = time.perf_counter() - start
    return {"compile_s": compile_s, "freeze_s": freeze_s, "members": members, "rss_mb": _rss_mb(), **counts}


if __name__ == "__main__":
    step, *args = sys.argv[1:]
    assert step == "compile", step
    print(json.dumps(run_compile(args[0], int(args[1]), int(args[2]))))

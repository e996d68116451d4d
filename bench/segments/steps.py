"""One segments-benchmark database per process: build it, then time a three-condition segment's count,
the same condition as a hand-written SQL query (the floor), the audience counts of a send to the
segment, and its launch (the freeze into the ledger); prints one JSON line.

    python bench/segments/steps.py URL CONTACTS

A database that has its contacts already (a run before built it) is measured again as it is: the
same data measured when the machine is quieter.

The data is shaped like a user's: addresses in random order, ten custom fields of every type (a
contact has the ones it has: 90 % a country, 80 % a score), three overlapping lists, ten past campaigns
whose ledgers hold half of the contacts each (5 M rows for a million contacts), and bounces of one
contact in five (200 k: hard and soft, recent and old, each on one of those campaigns)."""

import json
import random
import sys
import time
from datetime import timedelta
from typing import Any

from sqlalchemy import BigInteger, cast, func, insert, literal, select, text
from sqlmodel import Session

from app.audience import fields
from app.audience.segments import store
from app.audience.segments.audience import Audience, compile_send, freeze
from app.audience.store import ContactRow, insert_contacts
from app.db import is_postgresql, make_engine
from app.migrate import upgrade
from app.models import Bounce, Campaign, Contact, Delivery, ListMember, MailingList, Segment, utcnow
from app.models.types import UTCDateTime
from app.settings import Settings
from bench.launch.steps import _cpu, addresses

SEGMENT = "country = 'DE' and score >= 50 and not bounced within 90 days"
COUNTRIES = ["DE"] * 30 + ["AT"] * 10 + ["CH"] * 10 + ["FR"] * 15 + ["NL"] * 10 + ["IT"] * 15 + ["ES"] * 10
PLANS = ["free", "pro", "team", "enterprise"]
INDUSTRIES = ["retail", "software", "health", "logistics", "media", "finance"]
CAMPAIGNS = 10
# the floor: the same condition written by hand for each database
FLOOR = {
    "postgresql": "SELECT count(*) FROM contact c WHERE c.attributes->>'country' = 'DE' "
    "AND json_typeof(c.attributes->'score') = 'number' AND (c.attributes->>'score')::numeric >= 50 "
    "AND NOT EXISTS (SELECT 1 FROM bounce b WHERE b.email_key = c.email_key AND b.kind = 'bounce' "
    "AND b.created_at >= :since)",
    "sqlite": "SELECT count(*) FROM contact c WHERE json_extract(c.attributes, '$.country') = 'DE' "
    "AND json_type(c.attributes, '$.score') IN ('integer', 'real') AND json_extract(c.attributes, '$.score') >= 50 "
    "AND NOT EXISTS (SELECT 1 FROM bounce b WHERE b.email_key = c.email_key AND b.kind = 'bounce' "
    "AND b.created_at >= :since)",
}


def _attributes(rng: random.Random, i: int) -> dict[str, Any]:
    a: dict[str, Any] = {"plan": rng.choice(PLANS), "company": f"Firm {i % 5000}", "industry": rng.choice(INDUSTRIES)}
    if rng.random() < 0.9:
        a["country"] = rng.choice(COUNTRIES)
    if rng.random() < 0.8:
        a["score"] = rng.randint(0, 100)
    a["age"] = rng.randint(18, 90)
    a["vip"] = rng.random() < 0.1
    a["newsletter_opt"] = rng.random() < 0.5
    a["signup"] = f"20{rng.randint(15, 26)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    a["city"] = f"City {rng.randint(1, 300)}"
    return a


def _id() -> Any:
    return cast(Contact.id, BigInteger)


def build(session: Session, contacts: int) -> None:
    now = utcnow()
    for name, type_, choices in [
        ("country", "text", []), ("score", "number", []), ("plan", "choice", PLANS), ("company", "text", []),
        ("industry", "choice", INDUSTRIES), ("age", "number", []), ("vip", "boolean", []),
        ("newsletter_opt", "boolean", []), ("signup", "date", []), ("city", "text", []),
    ]:  # fmt: skip
        fields.define(session, name, name.title(), type_, choices)
    session.commit()
    rng = random.Random(5)
    emails = addresses(contacts)
    for start in range(0, contacts, 50_000):
        rows = [
            ContactRow(e, e.lower(), attributes=_attributes(rng, start + n))
            for n, e in enumerate(emails[start : start + 50_000])
        ]
        insert_contacts(session, rows, now)
        session.commit()
    del emails
    lists = [MailingList(name=n) for n in ("newsletter", "customers", "events")]
    session.add_all(lists)
    session.commit()
    stamp = literal(now, UTCDateTime())
    for ml, (factor, share) in zip(lists, [(7919, 70), (104729, 40), (1299709, 15)], strict=True):
        rows = select(literal(ml.id), Contact.id, literal("csv"), stamp).where(_id() * factor % 100 < share)
        session.execute(insert(ListMember).from_select(["list_id", "contact_id", "source", "added_at"], rows))
    session.commit()
    past = [
        Campaign(name=f"past {k}", from_address="news@example.test", subject="Past", state="completed")
        for k in range(CAMPAIGNS)
    ]
    session.add_all(past)
    session.commit()
    columns = ["campaign_id", "contact_id", "email", "email_key", "state", "attempts", "sent_at"]
    for k, campaign in enumerate(past):  # each to a different half of the contacts
        sent = literal(now - timedelta(days=15 * (k + 1)), UTCDateTime())
        rows = select(
            literal(campaign.id), Contact.id, Contact.email, Contact.email_key, literal("sent"), literal(1), sent
        ).where((_id() * (k * 2 + 3) + k) % 100 < 50)
        session.execute(insert(Delivery).from_select(columns, rows))
        session.commit()
    bucket = _id() * 37 % 1000
    bounce_columns = ["kind", "reason", "hard", "email", "email_key", "status", "reply_code", "diagnostic",
                      "remote_mta", "attribution", "source", "evidence", "original_headers", "campaign_id", "created_at"]  # fmt: skip
    for low, high, hard, days, k in [
        (0, 30, True, 20, 8),
        (30, 50, True, 200, 1),
        (50, 150, False, 40, 7),
        (150, 200, False, 120, 3),
    ]:
        rows = select(
            literal("bounce"), literal("user_unknown" if hard else "mailbox_full"), literal(hard), Contact.email,
            Contact.email_key, literal("5.1.1" if hard else "4.2.2"), literal("550" if hard else "452"), literal(""),
            literal(""), literal("verp"), literal("sweep"), literal(""), literal(""), literal(past[k].id),
            literal(now - timedelta(days=days), UTCDateTime()),
        ).where(bucket >= low, bucket < high)  # fmt: skip
        session.execute(insert(Bounce).from_select(bounce_columns, rows))
    session.commit()
    session.execute(text("ANALYZE"))
    session.commit()


def _timed(engine: Any, work: Any) -> tuple[float, float, Any]:
    with Session(engine) as session:
        cpu = _cpu(session)
        start = time.perf_counter()
        out = work(session)
        session.commit()
        return time.perf_counter() - start, _cpu(session) - cpu, out


def measure(url: str, contacts: int) -> dict[str, Any]:
    settings = Settings(_env_file=None, database_url=url)
    engine = make_engine(url)
    upgrade(engine)
    with Session(engine) as session:
        start = time.perf_counter()
        built = session.execute(select(func.count()).select_from(Segment)).scalar_one() > 0
        if not built:
            build(session, contacts)
        result: dict[str, Any] = {"build_s": time.perf_counter() - start, "postgresql": is_postgresql(session)}
        sizes = {
            t: session.execute(select(func.count()).select_from(m)).scalar_one()
            for t, m in [("contacts", Contact), ("deliveries", Delivery), ("bounces", Bounce)]
        }
        if not built:
            store.create(session, "Germans who score", SEGMENT)
            session.commit()
        segment_id = store.by_names(session, ["Germans who score"])[0].id or 0
    result["sizes"] = sizes
    floor = FLOOR["postgresql" if result["postgresql"] else "sqlite"]
    for name, work in [
        ("floor", lambda s: s.execute(text(floor), {"since": utcnow() - timedelta(days=90)}).scalar_one()),
        ("count", lambda s: store.preview(s, SEGMENT, utcnow()).count),
    ]:
        runs = [_timed(engine, work) for _ in range(3)]
        result[f"{name}_s"] = [w for w, _, _ in runs]
        result[f"{name}_cpu_s"] = [c for _, c, _ in runs]
        result[name] = runs[-1][2]
    assert result["floor"] == result["count"], (result["floor"], result["count"])
    audience = Audience([], [segment_id])
    wall, cpu, counts = _timed(engine, lambda s: compile_send(s, audience, settings, utcnow()).counts)
    result["audience_s"], result["audience_cpu_s"], result["counts"] = wall, cpu, counts

    def launch(session: Session) -> dict[str, Any]:
        campaign = Campaign(
            name="to the segment", from_address="news@example.test", subject="Hi", segment_ids=[segment_id]
        )
        session.add(campaign)
        session.flush()
        frozen = freeze(session, campaign.id or 0, audience, settings, utcnow(), utcnow())
        rows = session.execute(select(func.count()).where(Delivery.campaign_id == campaign.id)).scalar_one()
        assert rows == frozen["included"], (rows, frozen)
        return frozen

    wall, cpu, frozen = _timed(engine, launch)
    assert frozen == counts, (frozen, counts)
    result["launch_s"], result["launch_cpu_s"] = wall, cpu
    return result


if __name__ == "__main__":
    print(json.dumps(measure(sys.argv[1], int(sys.argv[2]))))

"""One launch-benchmark database per process: build it, then time compile and freeze; prints one
JSON line. Run by bench/launch/run.py as a script (not `-m`), so that `PYTHONPATH=OTHER_CHECKOUT`
measures another checkout's code on the same data.

    python bench/launch/steps.py URL CONTACTS

The data is shaped like a user's: addresses in random order (contact ids unrelated to address
order), the big free-mail domains plus many company domains, 0.3 % non-ASCII local parts; three
overlapping lists, a few memberships still waiting for their confirmation (double opt-in signups)
and members who left one list only; 10 % of the contacts suppressed (all four reasons) plus
suppressions of addresses that are not contacts; a past campaign whose ledger holds 40 % of the contacts as `sent`;
hard bounces after and before that clean send, bounces attributed to nothing (which never count),
and soft bounces three and two in the window (only three counts)."""

import ast
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import BigInteger, String, case, cast, func, insert, literal, select, text, update
from sqlmodel import Session

from app.audience.compile import compile_audience, freeze_into_ledger
from app.audience.store import ContactRow, insert_contacts
from app.db import is_postgresql, make_engine
from app.migrate import upgrade
from app.models import Bounce, Campaign, Contact, Delivery, ListMember, MailingList, Suppression, utcnow
from app.models.states import MemberStatus
from app.models.types import UTCDateTime
from app.settings import Settings

FIRST = [
    "anna",
    "ben",
    "carla",
    "david",
    "emma",
    "felix",
    "greta",
    "hans",
    "ida",
    "jonas",
    "karl",
    "lena",
    "max",
    "nina",
    "otto",
    "paula",
    "rolf",
    "sara",
    "tom",
    "uwe",
]
LAST = [
    "meier",
    "schmidt",
    "weber",
    "fischer",
    "wagner",
    "becker",
    "hoffmann",
    "koch",
    "richter",
    "klein",
    "wolf",
    "neumann",
    "braun",
    "krause",
]
BIG = ["gmail.com"] * 30 + ["yahoo.com"] * 8 + ["outlook.com"] * 8 + ["gmx.de"] * 6 + ["web.de"] * 5
UNICODE = ["jörg", "zoë", "søren", "françois", "josé"]
LISTS = ("newsletter", "customers", "events")


def addresses(n: int, seed: int = 17) -> list[str]:
    rng = random.Random(seed)
    companies = [f"firm{i}.example" for i in range(5000)]
    order = list(range(n))
    rng.shuffle(order)
    out = []
    for i in order:
        first = rng.choice(UNICODE) if rng.random() < 0.003 else rng.choice(FIRST)
        domain = rng.choice(BIG) if rng.random() < 0.6 else rng.choice(companies)
        out.append(f"{first}.{rng.choice(LAST)}{i}@{domain}")
    return out


def _id() -> Any:
    """The contact id as a 64-bit integer: the bench multiplies it to pick random-looking subsets."""
    return cast(Contact.id, BigInteger)


def _rss_mb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


# the reasons of bounces as a sweep classifies them, in a mix like a sender's: (share in %, reason, status, code)
HARD_MIX = [(70, "userunknown", "5.1.1", "550"), (15, "hostunknown", "5.1.2", "550"), (10, "blocked", "5.7.1", "554"),
            (5, "filtered", "5.2.1", "550")]  # fmt: skip
SOFT_MIX = [(60, "mailboxfull", "4.2.2", "452"), (25, "expired", "4.4.7", "421"), (15, "systemerror", "4.3.0", "451")]


def _mixed(mix: list[tuple[int, str, str, str]], field: int) -> Any:
    """A column of the bounce mix picked by the contact id: each share of contacts gets its reason."""
    share, low, whens = _id() * 7 % 100, 0, []
    for part, *values in mix:
        whens.append((share < low + part, literal(values[field])))
        low += part
    return case(*whens[:-1], else_=whens[-1][1])


def _bounces(session: Session, where: Any, hard: bool, attribution: str, created: Any, times: int = 1) -> None:
    mix = HARD_MIX if hard else SOFT_MIX
    rows = select(
        literal("bounce"), _mixed(mix, 0), literal(hard), Contact.email,
        Contact.email_key, _mixed(mix, 1), _mixed(mix, 2), literal(""),
        literal(""), literal(attribution), literal("sweep"), literal(""), literal(""), literal(created, UTCDateTime()),
    ).where(where)  # fmt: skip
    columns = ["kind", "reason", "hard", "email", "email_key", "status", "reply_code", "diagnostic", "remote_mta",
               "attribution", "source", "evidence", "original_headers", "created_at"]  # fmt: skip
    for _ in range(times):
        session.execute(insert(Bounce).from_select(columns, rows))


def build(session: Session, contacts: int) -> list[int]:
    now = utcnow()
    emails = addresses(contacts)
    for start in range(0, contacts, 50_000):
        rows = [ContactRow(e, e.lower()) for e in emails[start : start + 50_000]]
        insert_contacts(session, rows, now)
        session.commit()
    del emails
    return shape(session, contacts, now)


def shape(session: Session, contacts: int, now: datetime) -> list[int]:
    """Everything around the contacts already in the database, set-based (INSERT ... SELECT over the
    contact ids): the three lists, unconfirmed signups, per-list and global suppressions, a past campaign's
    ledger and the bounces. Returns the three lists' ids."""
    lists = [MailingList(name=n) for n in LISTS]
    session.add_all(lists)
    session.commit()
    ids = [m.id for m in lists]
    stamp = literal(now, UTCDateTime())
    # ids are in random address order, so these are random subsets: 70 %, 40 %, 15 %
    for list_id, (factor, share) in zip(ids, [(7919, 70), (104729, 40), (1299709, 15)], strict=True):
        rows = select(literal(list_id), Contact.id, literal("csv"), stamp).where(_id() * factor % 100 < share)
        session.execute(insert(ListMember).from_select(["list_id", "contact_id", "source", "added_at"], rows))
    member = cast(ListMember.contact_id, BigInteger)
    # signups waiting for their confirmation: 2 % of events (some of them confirmed on another list), 0.5 % of
    # the newsletter
    for list_id, share in [(ids[2], 20), (ids[0], 5)]:
        session.execute(
            update(ListMember)
            .where(ListMember.list_id == list_id, member * 53 % 1000 < share)
            .values(status=MemberStatus.UNCONFIRMED)
        )
    # unsubscribed from one list only: 3 % of the newsletter, 1 % of customers (some stay on another list)
    for list_id, share in [(ids[0], 30), (ids[1], 10)]:
        rows = (
            select(Contact.email, Contact.email_key, literal("unsubscribed"), literal("one-click"), literal(""),
                   literal(list_id), stamp)
            .join(ListMember, ListMember.contact_id == Contact.id)
            .where(ListMember.list_id == list_id, member * 59 % 1000 < share)
        )  # fmt: skip
        session.execute(
            insert(Suppression).from_select(
                ["email", "email_key", "reason", "source", "note", "list_id", "created_at"], rows
            )
        )
    pick = _id() * 17 % 10
    for reason, low, high in [("unsubscribed", 0, 6), ("bounced", 6, 8), ("complained", 8, 9), ("manual", 9, 10)]:
        rows = select(Contact.email, Contact.email_key, literal(reason), literal("bench"), literal(""), stamp).where(
            _id() * 31 % 100 < 10, pick >= low, pick < high
        )
        session.execute(
            insert(Suppression).from_select(["email", "email_key", "reason", "source", "note", "created_at"], rows)
        )
    outsiders = [{"email": f"gone{i}@old.example", "email_key": f"gone{i}@old.example"} for i in range(contacts // 100)]
    session.execute(
        insert(Suppression),
        [{**o, "reason": "unsubscribed", "source": "bench", "note": "", "created_at": now} for o in outsiders],
    )
    past = Campaign(name="past", from_address="news@example.test", subject="Past", state="completed")
    session.add(past)
    session.commit()
    sent_at = literal(now - timedelta(days=10), UTCDateTime())
    token = literal("t") + cast(Contact.id, String)
    rows = select(
        literal(past.id), Contact.id, Contact.email, Contact.email_key, literal("sent"), literal(1), sent_at, sent_at,
        literal("<") + token + literal("@example.test>"), token,
    ).where(_id() * 13 % 100 < 40)  # fmt: skip
    session.execute(
        insert(Delivery).from_select(
            ["campaign_id", "contact_id", "email", "email_key", "state", "attempts", "next_attempt_at", "sent_at",
             "message_id", "verp_token"],
            rows,
        )
    )  # fmt: skip
    bucket = _id() * 37 % 1000
    _bounces(session, bucket < 20, True, "verp", now - timedelta(days=2))  # after the clean send: counts
    _bounces(session, (bucket >= 20) & (bucket < 25), True, "verp", now - timedelta(days=20))  # before it, if sent
    _bounces(session, (bucket >= 25) & (bucket < 30), True, "none", now - timedelta(days=2))  # backscatter
    soft = _id() * 41 % 1000
    _bounces(session, soft < 10, False, "verp", now - timedelta(days=3), times=3)  # three in the window: counts
    _bounces(session, (soft >= 10) & (soft < 30), False, "verp", now - timedelta(days=3), times=2)
    _bounces(session, (soft >= 30) & (soft < 40), False, "verp", now - timedelta(days=45), times=3)  # too old
    session.commit()
    session.execute(text("ANALYZE"))  # statistics as a running database has them (autovacuum, the import)
    session.commit()
    return ids  # type: ignore[return-value]


def _cpu(session: Session) -> float:
    """CPU seconds spent so far by whatever runs the statements: this process on SQLite, the
    session's backend on PostgreSQL (same machine). On a shared machine wall time swings with the load;
    CPU time much less."""
    if not is_postgresql(session):
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime
    pid = session.execute(text("SELECT pg_backend_pid()")).scalar_one()
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def _campaign(session: Session, name: str) -> int:
    campaign = Campaign(name=name, from_address="news@example.test", subject=name)
    session.add(campaign)
    session.commit()
    assert campaign.id is not None
    return campaign.id


def _as_a_user(url: str, counts: dict[str, Any]) -> dict[str, float]:
    """Wall seconds of the two commands a user runs, each a fresh process on this database:
    `bulkmail audience --json` (start-up included) and `bulkmail campaign send` until it prints its
    launched counts (start-up, the template check and the freeze; the process is then stopped, the
    sending is not part of a launch). Both must print the counts the functions returned."""
    chosen = [arg for name in LISTS for arg in ("--list", name)]
    with tempfile.TemporaryDirectory(prefix="bench-launch-cli-") as data:
        env = {**os.environ, "BULKMAIL_DATABASE_URL": url, "BULKMAIL_DATA_DIR": data}
        start = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-m", "app", "audience", *chosen, "--json"], capture_output=True, text=True, env=env
        )
        audience_s = time.perf_counter() - start
        assert out.returncode == 0, out.stderr
        assert json.loads(out.stdout) == counts, (out.stdout, counts)
        body = Path(data) / "body.txt"
        body.write_text("Hello {{ first_name }},\n\nnews.\n")
        start = time.perf_counter()
        send = subprocess.Popen(
            [sys.executable, "-m", "app", "campaign", "send", *chosen, "--subject", "Launch", "--text", str(body),
             "--from", "news@example.test", "--no-local-worker"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        )  # fmt: skip
        assert send.stdout is not None
        line = send.stdout.readline()
        launch_s = time.perf_counter() - start
        send.terminate()
        _, err = send.communicate()
        assert "launched: " in line, (line, err)
        assert ast.literal_eval(line.split("launched: ", 1)[1]) == counts, (line, counts)
    return {"cli_audience_s": audience_s, "cli_launch_s": launch_s}


def measure(url: str, contacts: int) -> dict:
    settings = Settings(_env_file=None, database_url=url)
    engine = make_engine(url)
    upgrade(engine)
    with Session(engine) as session:
        start = time.perf_counter()
        lists = build(session, contacts)
        build_s = time.perf_counter() - start
        pg = is_postgresql(session)
    result: dict[str, Any] = {"build_s": build_s, "postgresql": pg}
    compiles, compiles_cpu = [], []
    for _ in range(3):
        with Session(engine) as session:
            cpu = _cpu(session)
            start = time.perf_counter()
            counts = compile_audience(session, lists, settings, utcnow()).counts
            compiles.append(time.perf_counter() - start)
            compiles_cpu.append(_cpu(session) - cpu)
    result["compile_s"] = compiles
    result["compile_cpu_s"] = compiles_cpu
    result["counts"] = counts
    freezes, freezes_cpu = [], []
    for name in ("first", "second"):
        with Session(engine) as session:
            campaign_id = _campaign(session, name)
            cpu = _cpu(session)
            start = time.perf_counter()
            frozen = freeze_into_ledger(session, campaign_id, lists, settings, utcnow(), utcnow())
            session.commit()
            freezes.append(time.perf_counter() - start)
            freezes_cpu.append(_cpu(session) - cpu)
            rows = session.execute(
                select(func.count()).select_from(Delivery).where(Delivery.campaign_id == campaign_id)
            ).scalar_one()
            assert frozen == counts, (frozen, counts)
            assert rows == counts["included"], (rows, counts["included"])
    result["freeze_s"] = freezes
    result["freeze_cpu_s"] = freezes_cpu
    result.update(_as_a_user(url, counts))
    result["load"] = os.getloadavg()[0]
    result["rss_mb"] = _rss_mb()
    return result


if __name__ == "__main__":
    print(json.dumps(measure(sys.argv[1], int(sys.argv[2]))))

"""The campaign report at a million deliveries: one campaign of DELIVERIES ledger rows (shuffled addresses over
a thousand domains, Gmail, Outlook and Yahoo the largest), 2 % hard bounces over six reasons, 0.05 %
complaints, 0.3 % unsubscribes over two lists, and HITS opens and clicks over three days (a third by
machines), written settled, with the hourly counts the settling makes. Times the report page as a signed-in
user gets it (HTML, chart included) and the API's report: the first view (which counts the ledger per
domain once) and the views after it (median of ROUNDS); and the per-domain recount the scheduler runs.

    .venv/bin/python -m bench.tracking.report [--deliveries 1000000] [--hits 3000000] [--backends sqlite,postgresql]

PostgreSQL: the scratch database `bulkmail_bench_report` beside BULKMAIL_BENCH_POSTGRES_URL's."""

import argparse
import random
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlmodel import Session

from app.apikeys import create_api_key
from app.db import insert_rows, is_postgresql, make_engine
from app.main import create_app
from app.migrate import upgrade
from app.models import Campaign, CampaignLink, MailingList, utcnow
from app.settings import Settings
from app.tracking import report
from app.users import create_user
from bench.audience.run import fresh_database

REASONS = ["userunknown", "mailboxfull", "hostunknown", "blocked", "policy", "spam"]
BIG = {"gmail.com": 0.3, "outlook.com": 0.12, "hotmail.com": 0.06, "yahoo.com": 0.07, "web.de": 0.05, "gmx.de": 0.05}


def _domains(n: int) -> list[str]:
    others = [f"firm{i}.example" for i in range(1000)]
    weights = list(BIG.values()) + [(1 - sum(BIG.values())) / len(others)] * len(others)
    return random.choices(list(BIG) + others, weights, k=n)


def populate(engine: Engine, deliveries: int, hits: int) -> int:
    now = utcnow()
    sent_at = now - timedelta(days=1)
    with Session(engine) as s:
        lists = [MailingList(name="Newsletter"), MailingList(name="Offers")]
        s.add_all(lists)
        c = Campaign(name="big", from_address="news@example.test", subject="s", state="completed", tracking="contact",
                     list_ids=[1, 2], launched_at=sent_at, completed_at=sent_at + timedelta(hours=2))  # fmt: skip
        s.add(c)
        s.flush()
        assert c.id is not None
        insert_rows(s, CampaignLink, [{"campaign_id": c.id, "position": i, "url": f"https://shop.example/p/{i}"}
                                      for i in range(1, 13)])  # fmt: skip
        s.commit()
        cid, list_ids = c.id, [lst.id for lst in lists]
    domains = _domains(deliveries)
    order = list(range(deliveries))
    random.shuffle(order)
    rows = []
    for i in order:
        a = f"p{i}@{domains[i]}"
        state = "bounced" if i % 50 == 0 else ("failed" if i % 211 == 0 else "sent")
        at = sent_at + timedelta(seconds=i % 7200)
        rows.append({"campaign_id": cid, "email": a, "email_key": a, "state": state, "attempts": 1, "sent_at": at,
                     "last_attempt_at": at})  # fmt: skip
    with Session(engine) as s:
        for k in range(0, len(rows), 100_000):
            insert_rows(s, _model("Delivery"), rows[k : k + 100_000])
        s.commit()
    bounces = [{"kind": "bounce", "reason": REASONS[i % 6], "hard": True, "email": r["email"], "email_key": r["email"],
                "status": "5.1.1", "reply_code": "550", "diagnostic": "", "remote_mta": "", "campaign_id": cid,
                "attribution": "verp", "source": "sweep", "original_headers": "", "evidence": "",
                "created_at": r["sent_at"] + timedelta(minutes=5)}
               for i, r in enumerate(rows) if r["state"] == "bounced"]  # fmt: skip
    complaints = [{**b, "kind": "complaint", "reason": "abuse", "hard": False} for b in bounces[::40]]
    unsubscribes = [{"email": r["email"], "email_key": r["email"], "reason": "unsubscribed", "source": "one-click",
                     "campaign_id": cid, "list_id": list_ids[i % 2], "created_at": now, "note": ""}
                    for i, r in enumerate(rows[::333])]  # fmt: skip
    with Session(engine) as s:
        insert_rows(s, _model("Bounce"), bounces + complaints)
        insert_rows(s, _model("Suppression"), unsubscribes)
        s.commit()
    with engine.connect() as conn:
        first, last = conn.execute(text("SELECT min(id), max(id) FROM delivery")).one()
    hit_rows = []
    for _ in range(hits):
        d = random.randint(first, last)
        link = 0 if random.random() < 0.7 else random.randint(1, 12)
        machine = random.random() < 0.33
        at = sent_at + timedelta(seconds=random.randint(0, 3 * 86400))
        hit_rows.append({"campaign_id": cid, "delivery_id": d, "link": link, "at": at, "signal": None,
                         "machine": machine, "reason": random.choice(["apple", "prefetch", "burst"]) if machine else None})  # fmt: skip
    with Session(engine) as s:
        for k in range(0, len(hit_rows), 200_000):
            insert_rows(s, _model("TrackingHit"), hit_rows[k : k + 200_000])
        s.commit()
    hour = "date_trunc('hour', at)" if is_postgresql(engine) else "strftime('%Y-%m-%d %H:00:00.000000', at)"
    with engine.begin() as conn:  # the hourly counts, as the settling would have made them
        conn.execute(text(
            "INSERT INTO tracking_count (campaign_id, hour, link, reason, hits, firsts) "
            f"SELECT campaign_id, {hour}, link, coalesce(reason, ''), count(*), count(DISTINCT delivery_id) "
            f"FROM tracking_hit GROUP BY campaign_id, {hour}, link, coalesce(reason, '')"))  # fmt: skip
        conn.execute(text(
            "INSERT INTO tracking_count (campaign_id, hour, link, reason, hits, firsts) "
            f"SELECT campaign_id, {hour}, -1, coalesce(reason, ''), 0, count(DISTINCT delivery_id) "
            f"FROM tracking_hit WHERE link > 0 GROUP BY campaign_id, {hour}, coalesce(reason, '')"))  # fmt: skip
        conn.execute(text("ANALYZE"))
    return cid


def _model(name: str):  # type: ignore[no-untyped-def]
    import app.models

    return getattr(app.models, name)


def timed(fn, rounds: int) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """The first call's ms and the median of the next ROUNDS."""
    t = time.perf_counter()
    fn()
    first = (time.perf_counter() - t) * 1000
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return first, statistics.median(times)


def measure(backend: str, deliveries: int, hits: int, rounds: int, workdir: Path) -> dict[str, float]:
    url = fresh_database(backend, workdir, "report.db", "bulkmail_bench_report")
    engine = make_engine(url)
    upgrade(engine)
    t = time.perf_counter()
    cid = populate(engine, deliveries, hits)
    built = time.perf_counter() - t
    settings = Settings(_env_file=None, database_url=url, secret_key="bench", embedded_worker=False, scheduler=False,
                        data_dir=workdir / "data")  # fmt: skip
    with Session(engine) as s:
        create_user(s, "viewer@example.test", "correct horse battery", role="viewer")
        _row, key = create_api_key(s, "bench", "read")
        s.commit()
    out: dict[str, float] = {"build_s": built}
    with TestClient(create_app(settings)) as client:
        login = client.get("/login").text
        import re

        token = re.search(r'name="csrf_token" value="([^"]+)"', login).group(1)  # type: ignore[union-attr]
        client.post("/login", data={"email": "viewer@example.test", "password": "correct horse battery",
                                    "csrf_token": token, "next": "/"})  # fmt: skip

        def page() -> None:
            r = client.get(f"/campaigns/{cid}/report")
            assert r.status_code == 200 and "<svg" in r.text, r.status_code

        def api() -> None:
            r = client.get(f"/api/v1/campaigns/{cid}/report", headers={"Authorization": f"Bearer {key}"})
            assert r.status_code == 200 and r.json()["recipients"] == deliveries

        out["page_first_ms"], out["page_ms"] = timed(page, rounds)
        out["api_first_ms"], out["api_ms"] = timed(api, rounds)

    def recount() -> None:
        with Session(engine) as s:
            report.refresh_domains(s, cid)
            s.commit()

    out["recount_ms"] = timed(recount, 1)[0]
    engine.dispose()
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--deliveries", type=int, default=1_000_000)
    parser.add_argument("--hits", type=int, default=3_000_000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--rounds", type=int, default=5)
    a = parser.parse_args()
    random.seed(21)
    load = Path("/proc/loadavg").read_text().split()[0]
    print(f"load at start {load}")
    print("| database | deliveries | hits | page, first view | page, after | API, first | API, after | per-domain recount |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory(prefix="bench-report-") as tmp:
        for backend in a.backends.split(","):
            r = measure(backend, a.deliveries, a.hits, a.rounds, Path(tmp))
            print(f"| {backend} | {a.deliveries:,} | {a.hits:,} | {r['page_first_ms']:.0f} ms | {r['page_ms']:.0f} ms | "
                  f"{r['api_first_ms']:.0f} ms | {r['api_ms']:.0f} ms | {r['recount_ms']:.0f} ms |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()

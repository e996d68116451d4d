"""The campaign report at a million deliveries: one campaign of DELIVERIES ledger rows (shuffled addresses over
a thousand domains, Gmail, Outlook and Yahoo the largest), 2 % hard bounces over six reasons, 0.05 %
complaints, 0.3 % unsubscribes over two lists, and HITS opens and clicks over three days (a third by
machines), written settled, with the hourly counts the settling makes. Times the report page as a signed-in
user gets it (HTML, chart included) and the API's report: the first view and the views after it
(median of ROUNDS).

    .venv/bin/python -m bench.tracking.report [--deliveries 1000000] [--hits 3000000] [--backends sqlite,postgresql]
        [--pg-name bulkmail_bench_report]

PostgreSQL: the scratch database `bulkmail_bench_report` (or --pg-name) beside BULKMAIL_BENCH_POSTGRES_URL's."""

import argparse
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
from app.users import create_user
from bench.audience.run import fresh_database

BIG = {"gmail.com": 0.3, "outlook.com": 0.12, "hotmail.com": 0.06, "yahoo.com": 0.07, "web.de": 0.05, "gmx.de": 0.05}


def populate(engine: Engine, deliveries: int, hits: int) -> int:
    """Everything written by set-based SQL (a million rows built in Python took most of a busy machine's
    half hour); addresses shuffled by a multiplicative step, domains weighted as in BIG."""
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
    pg = is_postgresql(engine)
    series = (
        "generate_series(0, :n - 1) AS g(i)"
        if pg
        else "(WITH RECURSIVE g(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM g WHERE i < :n - 1) SELECT i FROM g)"
    )
    cuts, case = 0, []
    for domain, share in BIG.items():
        cuts += int(share * 100)
        case.append(f"WHEN i % 100 < {cuts} THEN '{domain}'")
    domain = f"(CASE {' '.join(case)} ELSE 'firm' || (i % 1000) || '.example' END)"
    big = "i::bigint" if pg else "i"
    address = f"'p' || (({big} * 7919) % :n) || '@' || {domain}"
    at = "(:t + (i % 7200) * interval '1 second')" if pg else "datetime(:t, '+' || (i % 7200) || ' seconds')"
    hit_at = "(:t + ((i * 31) % 259200) * interval '1 second')" if pg else (
        "datetime(:t, '+' || ((i * 31) % 259200) || ' seconds')")  # fmt: skip
    t = sent_at if pg else sent_at.replace(tzinfo=None).isoformat(" ")
    state = "(CASE WHEN i % 50 = 0 THEN 'bounced' WHEN i % 211 = 0 THEN 'failed' ELSE 'sent' END)"
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO delivery (campaign_id, email, email_key, state, attempts, sent_at, last_attempt_at) "
                f"SELECT :c, {address}, {address}, {state}, 1, {at}, {at} FROM {series}"
            ),
            {"c": cid, "n": deliveries, "t": t},
        )
        conn.execute(
            text(
                "INSERT INTO bounce (kind, reason, hard, email, email_key, status, reply_code, diagnostic, remote_mta, "
                "campaign_id, attribution, source, original_headers, evidence, created_at) "
                "SELECT 'bounce', CASE id % 6 WHEN 0 THEN 'userunknown' WHEN 1 THEN 'mailboxfull' WHEN 2 THEN 'hostunknown' "
                "WHEN 3 THEN 'blocked' WHEN 4 THEN 'policy' ELSE 'spam' END, true, email, email_key, '5.1.1', '550', '', '', "
                "campaign_id, 'verp', 'sweep', '', '', sent_at FROM delivery WHERE state = 'bounced'"
            )
        )
        conn.execute(
            text(
                "INSERT INTO bounce (kind, reason, hard, email, email_key, status, reply_code, diagnostic, remote_mta, "
                "campaign_id, attribution, source, original_headers, evidence, created_at) "
                "SELECT 'complaint', 'abuse', false, email, email_key, '', '', '', '', campaign_id, 'verp', 'sweep', '', '', "
                "sent_at FROM delivery WHERE id % 2000 = 7"
            )
        )
        conn.execute(
            text(
                "INSERT INTO suppression (email, email_key, reason, source, note, campaign_id, list_id, created_at) "
                "SELECT email, email_key, 'unsubscribed', 'one-click', '', campaign_id, "
                "CASE WHEN id % 2 = 0 THEN :l1 ELSE :l2 END, sent_at FROM delivery WHERE id % 333 = 5"
            ),
            {"l1": list_ids[0], "l2": list_ids[1]},
        )
        first = conn.execute(text("SELECT min(id) FROM delivery")).scalar_one()
        # 70 % opens, a third by machines (their rules spread), over three days
        conn.execute(text(
            "INSERT INTO tracking_hit (campaign_id, delivery_id, link, at, signal, machine, reason) "
            f"SELECT :c, :first + (({big} * 104729) % :d), CASE WHEN i % 10 < 7 THEN 0 ELSE 1 + i % 12 END, {hit_at}, NULL, "
            "i % 3 = 0, CASE WHEN i % 3 = 0 THEN CASE i % 4 WHEN 0 THEN 'apple' WHEN 1 THEN 'prefetch' ELSE 'burst' END END "
            f"FROM {series}"), {"c": cid, "n": hits, "d": deliveries, "first": first, "t": t})  # fmt: skip
    hour = "date_trunc('hour', at)" if pg else "strftime('%Y-%m-%d %H:00:00.000000', at)"
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
    if pg:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM (ANALYZE) delivery"))
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


def measure(
    backend: str, deliveries: int, hits: int, rounds: int, workdir: Path, pg_name: str = "bulkmail_bench_report"
) -> dict[str, float]:
    url = fresh_database(backend, workdir, "report.db", pg_name)
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

    engine.dispose()
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--deliveries", type=int, default=1_000_000)
    parser.add_argument("--hits", type=int, default=3_000_000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--pg-name", default="bulkmail_bench_report", help="the scratch PostgreSQL database")
    a = parser.parse_args()
    load = Path("/proc/loadavg").read_text().split()[0]
    print(f"load at start {load}")
    print("| database | deliveries | hits | page, first view | page, after | API, first | API, after | written in |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory(prefix="bench-report-") as tmp:
        for backend in a.backends.split(","):
            r = measure(backend, a.deliveries, a.hits, a.rounds, Path(tmp), a.pg_name)
            print(f"| {backend} | {a.deliveries:,} | {a.hits:,} | {r['page_first_ms']:.0f} ms | {r['page_ms']:.0f} ms | "
                  f"{r['api_first_ms']:.0f} ms | {r['api_ms']:.0f} ms | {r['build_s']:.0f} s |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()

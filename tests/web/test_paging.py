"""Every list a page shows comes in pages, like the API's: a bounded page, a "next" link that keeps the
filters, and every row reachable exactly once by following it. Through the pages, on both databases."""

import html
import re
from datetime import timedelta

from sqlalchemy import insert
from sqlmodel import Session

from app.models import (
    ApiKey,
    Bounce,
    Campaign,
    Delivery,
    ImportJob,
    ImportReject,
    MailboxSweep,
    MailingList,
    Suppression,
    utcnow,
)
from tests.web.conftest import Browser


def _next(page: str) -> str | None:
    found = re.search(r'<a href="([^"]+)" rel="next">', page)
    return html.unescape(found.group(1)) if found else None


def _walk(web: Browser, url: str, row: str) -> tuple[list[list[str]], list[str]]:
    """Every page from `url` on: the `row` matches on each page, and the URLs followed."""
    pages, urls = [], [url]
    while True:
        page = web.get(urls[-1])
        assert page.status_code == 200
        pages.append(re.findall(row, page.text))
        following = _next(page.text)
        if following is None:
            return pages, urls
        urls.append(following)


def test_bounces_come_in_pages_that_keep_the_filter(web: Browser, engine) -> None:
    now = utcnow()
    with Session(engine) as s:
        rows = [{"kind": "bounce" if i % 10 else "delayed", "reason": "userunknown" if i % 3 else "mailboxfull",
                 "hard": True, "email": f"user{i}@example.test", "email_key": f"user{i}@example.test",
                 "created_at": now - timedelta(minutes=i // 2)}  # pairs share a timestamp: the cursor tells them apart
                for i in range(2036)]  # fmt: skip
        s.execute(insert(Bounce), rows)
        s.commit()
    wanted = {r["email"] for r in rows if r["kind"] == "bounce"}
    assert len(wanted) == 1832
    first = web.get("/bounces?kind=bounce")
    assert len(re.findall(r"<td>user\d+@example.test</td>", first.text)) == 50
    pages, urls = _walk(web, "/bounces?kind=bounce", r"<td>(user\d+@example.test)</td>")
    assert all("kind=bounce" in u for u in urls[1:]), "the filter is kept across pages"
    seen = [e for p in pages for e in p]
    assert len(pages) == 37 and {len(p) for p in pages[:-1]} == {50}
    assert len(seen) == len(set(seen)) == 1832 and set(seen) == wanted
    # newest first (the later insert first within one second), across page boundaries too
    numbers = [int(e[4:].split("@")[0]) for e in seen]
    assert numbers == sorted(numbers, key=lambda i: (i // 2, -i))
    assert 'rel="first"' in web.get(urls[3]).text
    # a second filter is kept as well; an edited cursor shows the first page, not an error
    pages, urls = _walk(web, "/bounces?kind=bounce&reason=mailboxfull", r"<td>(user\d+@example.test)</td>")
    assert sum(len(p) for p in pages) == sum(1 for r in rows if r["kind"] == "bounce" and r["reason"] == "mailboxfull")
    assert all("reason=mailboxfull" in u and "kind=bounce" in u for u in urls[1:])
    assert web.get("/bounces?kind=bounce&cursor=garbage").status_code == 200


def test_the_sweep_log_comes_in_pages(web: Browser, engine) -> None:
    with Session(engine) as s:
        s.execute(insert(MailboxSweep), [{"protocol": "imap", "state": "done", "seen": i, "started_at": utcnow(),
                                          "per_kind": {}, "per_layer": {}} for i in range(23)])  # fmt: skip
        s.commit()
    pages, urls = _walk(web, "/bounces?kind=bounce", r'</span> schedule</td><td class="num">(\d+)</td>')
    assert [len(p) for p in pages] == [10, 10, 3]
    assert sorted(int(n) for p in pages for n in p) == list(range(23))
    assert all("sweeps=" in u and "kind=bounce" in u for u in urls[1:])


def test_suppressions_come_in_pages_that_keep_the_search(web: Browser, engine) -> None:
    with Session(engine) as s:
        s.execute(insert(Suppression), [{"email": f"s{i}@example.test", "email_key": f"s{i}@example.test",
                                         "reason": "bounced" if i % 2 else "manual", "created_at": utcnow()}
                                        for i in range(450)])  # fmt: skip
        s.commit()
    pages, urls = _walk(web, "/suppressions?reason=bounced&q=example", r"<td>(s\d+@example.test)</td>")
    assert [len(p) for p in pages] == [100, 100, 25]
    assert {e for p in pages for e in p} == {f"s{i}@example.test" for i in range(1, 450, 2)}
    assert all("reason=bounced" in u and "q=example" in u for u in urls[1:])


def test_campaigns_lists_imports_rejects_and_the_ledger_search_come_in_pages(web: Browser, engine) -> None:
    with Session(engine) as s:
        s.execute(insert(MailingList), [{"name": f"List {i:03}", "created_at": utcnow()} for i in range(130)])
        s.execute(insert(Campaign), [{"name": f"Campaign {i}", "from_address": "a@example.test", "subject": "s",
                                      "state": "paused" if i < 8 else "completed", "paused_reason": "relay auth error",
                                      "list_ids": [], "relay_ids": [], "headers": {}, "audience_counts": {},
                                      "created_at": utcnow(),
                                      "updated_at": utcnow()} for i in range(75)])  # fmt: skip
        s.commit()
        campaign_id = s.get(Campaign, 1).id  # type: ignore[union-attr]
        s.execute(insert(Delivery), [{"campaign_id": campaign_id, "email": f"r{i}@example.test",
                                      "email_key": f"r{i}@example.test"} for i in range(45)])  # fmt: skip
        job = ImportJob(list_id=1, filename="big.csv", format="csv", state="done", invalid=130)
        s.add(job)
        s.add_all(ImportJob(list_id=1, filename=f"old{i}.csv", format="csv", state="done") for i in range(25))
        s.commit()
        s.execute(insert(ImportReject), [{"import_id": job.id, "line": i + 2, "value": f"bad{i}", "reason": "no @"}
                                         for i in range(130)])  # fmt: skip
        s.commit()
        job_id = job.id

    pages, _ = _walk(web, "/lists", r'<a href="/lists/\d+">(List \d+)</a>')
    assert [len(p) for p in pages] == [100, 30] and [n for p in pages for n in p] == [
        f"List {i:03}" for i in range(130)
    ]

    pages, _ = _walk(web, "/campaigns", r'<a href="/campaigns/\d+">(Campaign \d+)</a>')
    assert [len(p) for p in pages] == [50, 25]
    # the dashboard shows a few paused campaigns and leads to all of them
    dashboard = web.get("/").text
    assert dashboard.count("is paused:") == 5 and 'href="/campaigns?state=paused"' in dashboard
    pages, _ = _walk(web, "/campaigns?state=paused", r'<a href="/campaigns/\d+">(Campaign \d+)</a>')
    assert sorted(n for p in pages for n in p) == sorted(f"Campaign {i}" for i in range(8))

    pages, urls = _walk(web, f"/campaigns/{campaign_id}?email=example", r"<h3>(r\d+@example.test) ")
    assert [len(p) for p in pages] == [20, 20, 5] and all("email=example" in u for u in urls[1:])

    pages, urls = _walk(web, "/lists/1", r'<a href="/imports/\d+">([^<]+)</a>')
    assert [len(p) for p in pages] == [20, 6] and all("imports=" in u for u in urls[1:])

    pages, urls = _walk(web, f"/imports/{job_id}", r"<td>(bad\d+)</td>")
    assert [len(p) for p in pages] == [50, 50, 30] and all(u.startswith(f"/imports/{job_id}?") for u in urls[1:])
    assert [v for p in pages for v in p] == [f"bad{i}" for i in range(130)]


def test_api_keys_come_in_pages(web: Browser, engine) -> None:
    with Session(engine) as s:
        s.execute(insert(ApiKey), [{"name": f"cms{i}", "prefix": f"bm_{i:05d}", "key_hash": f"hash{i}",
                                    "scope": "read", "created_at": utcnow()} for i in range(120)])  # fmt: skip
        s.commit()
    pages, urls = _walk(web, "/settings/api-keys", r"<td>(cms\d+)</td>")
    assert [len(p) for p in pages] == [50, 50, 20]
    assert {n for p in pages for n in p} == {f"cms{i}" for i in range(120)}

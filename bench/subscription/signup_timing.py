"""Does the signup form's answer time tell whether an address is known? Posts to a list's hosted form
(`POST /s/ID`, double opt-in) against one live server (uvicorn in a thread, loopback), interleaved so the
machine's load hits every kind alike: a new address, one already subscribed, and one waiting for its
confirmation (its confirmation queued within the hour). The background job that carries the signups out
runs beside it every half second, as `bulkmail serve`'s background process would. Prints each kind's median
and spread.

    .venv/bin/python -m bench.subscription.signup_timing [--posts 50] [--database-url URL]

SQLite by default (a temporary file); --database-url takes an empty PostgreSQL database."""

import argparse
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from sqlalchemy import Engine
from sqlmodel import Session

from app.db import make_engine
from app.migrate import upgrade
from app.models import Contact, ListMember, MailingList, utcnow
from app.settings import Settings
from app.subscription import forms
from tests.support.browser import live_server
from tests.support.network import free_port

KINDS = ("new", "subscribed", "waiting")
Job = Callable[[Engine], int] | None


def _job() -> Job:
    try:
        from app.subscription.signup import take_requests
    except ImportError:  # a version whose request carried the signup out itself (the comparison's "before")
        return None
    return take_requests


@contextmanager
def _job_running(url: str, job: Job) -> Iterator[None]:
    stop = threading.Event()
    engine = make_engine(url)

    def loop() -> None:
        while job is not None and not stop.wait(0.5):
            job(engine)

    thread = threading.Thread(target=loop, daemon=True)
    if job is not None:
        thread.start()
    try:
        yield
    finally:
        stop.set()
        if job is not None:
            thread.join(30)
        engine.dispose()


def _setup(url: str, posts: int) -> int:
    engine = make_engine(url)
    upgrade(engine)
    now = utcnow()
    with Session(engine) as s:
        ml = MailingList(name="bench signup")
        s.add(ml)
        s.flush()
        forms.save(s, ml, forms.Changes(public=True, double_opt_in=True))
        contacts = [Contact(email=f"subscribed{i}@example.com", email_key=f"subscribed{i}@example.com",
                            created_at=now, updated_at=now) for i in range(posts)]  # fmt: skip
        s.add_all(contacts)
        s.flush()
        s.add_all(ListMember(list_id=ml.id, contact_id=c.id, source="csv", added_at=now) for c in contacts)  # type: ignore[arg-type]
        s.commit()
        assert ml.id is not None
        list_id = ml.id
    engine.dispose()
    return list_id


def _post(client: httpx.Client, list_id: int, email: str) -> float:
    started = time.perf_counter()
    r = client.post(f"/s/{list_id}", data={"email": email})
    took = time.perf_counter() - started
    assert r.status_code == 200, r.text
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--posts", type=int, default=50, help="posts of each kind")
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-signup-"))
    url = args.database_url or f"sqlite:///{workdir / 'bench.db'}"
    list_id = _setup(url, args.posts)
    settings = Settings(_env_file=None, database_url=url, secret_key="bench", embedded_worker=False, scheduler=False,
                        signup_rate_per_minute=0, data_dir=workdir)  # fmt: skip
    times: dict[str, list[float]] = {k: [] for k in KINDS}
    job = _job()
    with live_server(settings, free_port()) as base, httpx.Client(base_url=base) as client, _job_running(url, job):
        for i in range(args.posts):  # the waiting ones: signed up once, their confirmation queued now
            _post(client, list_id, f"waiting{i}@example.com")
        time.sleep(1.5)  # the job has carried them out
        for _ in range(5):  # warm-up: first requests load templates and catalogues
            _post(client, list_id, "subscribed0@example.com")
        for i in range(args.posts):
            order = KINDS[i % 3 :] + KINDS[: i % 3]  # each kind first, second and third in turn
            for kind in order:
                times[kind].append(_post(client, list_id, f"{kind}{i}@example.com"))
    queue = "queued, carried out by the job" if job else "carried out in the request"
    print(f"database: {make_engine(url).dialect.name}; {args.posts} posts of each kind, interleaved; signups {queue}")
    print("| address | median | p10 | p90 |")
    print("|---|---|---|---|")
    for kind in KINDS:
        t = sorted(times[kind])
        deciles = statistics.quantiles(t, n=10)
        print(
            f"| {kind} | {1000 * statistics.median(t):.1f} ms | {1000 * deciles[0]:.1f} ms | {1000 * deciles[-1]:.1f} ms |"
        )


if __name__ == "__main__":
    main()

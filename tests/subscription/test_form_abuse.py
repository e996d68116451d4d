"""The hosted form against abuse: a flood from one IP is limited (429, a page saying when to try again) and the
posts before the limit are kept; a bot that fills the honeypot gets the usual answer and leaves nothing; and
no answer tells whether an address is known, waiting, subscribed or suppressed, nor does the work its request
does (the same one queued row for every address: the job does the rest after the answer)."""

import math
import time

from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlmodel import Session

from app.models import ConsentEvent, Contact, ListMember, SignupRequest, Suppression, TransactionalMessage
from app.secret_key import get_secret_key
from app.settings import Settings
from app.subscription import forms
from app.subscription.mail import confirm_url
from tests.subscription.support import contact_id, job_ran, membership, messages, signup_list


def _count(engine: Engine, model: type) -> int:
    with Session(engine) as s:
        return int(s.execute(select(func.count()).select_from(model)).scalar_one())


def test_a_thousand_posts_from_one_ip_are_rate_limited(
    anon_client: TestClient, engine: Engine, settings: Settings
) -> None:
    list_id = signup_list(engine)
    answers = {}
    started = time.monotonic()
    for i in range(1000):
        r = anon_client.post(f"/s/{list_id}", data={"email": f"flood{i:04d}@example.com"})
        answers[f"flood{i:04d}@example.com"] = r
    taken = [a for a, r in answers.items() if r.status_code == 200]
    limited = [a for a, r in answers.items() if r.status_code == 429]
    minutes = (time.monotonic() - started) / 60
    assert len(taken) + len(limited) == 1000
    # the burst, and what the rate refilled while the flood ran (10 a minute)
    refilled = math.ceil(minutes * settings.signup_rate_per_minute)
    assert settings.signup_rate_burst <= len(taken) <= settings.signup_rate_burst + refilled
    assert taken[: settings.signup_rate_burst] == [
        f"flood{i:04d}@example.com" for i in range(settings.signup_rate_burst)
    ]
    refused = answers[limited[0]]
    assert "Too many signups" in refused.text and int(refused.headers["Retry-After"]) >= 1
    job_ran(engine)
    # every post before the limit is kept, none after it
    assert all(membership(engine, list_id, a) == "unconfirmed" for a in taken)
    assert all(contact_id(engine, a) is None for a in limited)
    assert _count(engine, TransactionalMessage) == len(taken)
    # another client address is not held back by this one's flood
    other = TestClient(anon_client.app, client=("203.0.113.9", 40000))
    assert other.post(f"/s/{list_id}", data={"email": "someone.else@example.com"}).status_code == 200


def test_the_honeypot_drops_bots_with_the_usual_answer(anon_client: TestClient, engine: Engine) -> None:
    list_id = signup_list(engine)
    page = anon_client.get(f"/s/{list_id}").text
    assert f'name="{forms.HONEYPOT}"' in page and 'class="hp" aria-hidden="true"' in page
    human = anon_client.post(f"/s/{list_id}", data={"email": "human@example.com"})
    bot = anon_client.post(f"/s/{list_id}", data={"email": "bot@example.com", forms.HONEYPOT: "http://spam.example"})
    assert (bot.status_code, bot.text) == (human.status_code, human.text)
    assert _count(engine, SignupRequest) == 1  # the bot's is not even queued
    job_ran(engine)
    assert contact_id(engine, "bot@example.com") is None
    assert [m.email for m in messages(engine)] == ["human@example.com"]
    assert _count(engine, ConsentEvent) == 1


_TABLES = (SignupRequest, Contact, ListMember, ConsentEvent, TransactionalMessage)


def _answer(client: TestClient, list_id: int, address: str) -> tuple[int, str, list[tuple[str, str]]]:
    """The answer to a signup, once the request has written what it writes: one queued request, and nothing
    else (no contact, membership, ledger row or mail) whatever the address; then the job carries it out."""
    engine = client.app.state.engine  # type: ignore[attr-defined]
    before = [_count(engine, t) for t in _TABLES]
    r = client.post(f"/s/{list_id}", data={"email": address, "first_name": "Pat"})
    assert [_count(engine, t) - n for t, n in zip(_TABLES, before, strict=True)] == [1, 0, 0, 0, 0], address
    job_ran(engine)
    assert _count(engine, SignupRequest) == 0
    # the request id is new for every request, known address or not
    headers = sorted((k, v) for k, v in r.headers.items() if k not in ("date", "content-length", "x-request-id"))
    return r.status_code, r.text, headers


def test_no_answer_tells_whether_an_address_is_known(
    anon_client: TestClient, engine: Engine, settings: Settings
) -> None:
    list_id = signup_list(engine)
    address = "pat@example.com"
    unknown = _answer(anon_client, list_id, address)
    waiting = _answer(anon_client, list_id, address)  # a second signup while the first waits
    [message] = messages(engine)
    assert message.id is not None
    path = confirm_url(settings, get_secret_key(settings, engine), message.id).removeprefix(settings.base_url)
    assert anon_client.post(path).status_code == 200
    subscribed = _answer(anon_client, list_id, address)
    with Session(engine) as s:
        s.add(Suppression(email="blocked@example.com", email_key="blocked@example.com", reason="manual"))
        s.commit()
    suppressed = _answer(anon_client, list_id, "blocked@example.com")
    never_seen = _answer(anon_client, list_id, "someone.new@example.com")
    assert unknown == waiting == subscribed
    assert suppressed == never_seen == unknown
    # behind the same answer: no second confirmation within the hour, none for a subscriber or a suppressed one
    assert [m.email for m in messages(engine)] == [address, "someone.new@example.com"]
    assert contact_id(engine, "blocked@example.com") is None
    with Session(engine) as s:
        assert s.execute(select(func.count()).select_from(Contact)).scalar_one() == 2


def test_an_oversized_post_is_refused_without_being_kept(anon_client: TestClient, engine: Engine) -> None:
    list_id = signup_list(engine)
    r = anon_client.post(f"/s/{list_id}", data={"email": "big@example.com", "first_name": "x" * 100_000})
    assert r.status_code == 413 and "too large" in r.text
    r = anon_client.post(f"/s/{list_id}", content="&".join(f"f{i}=1" for i in range(500)),
                         headers={"Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
    assert r.status_code == 413
    assert contact_id(engine, "big@example.com") is None

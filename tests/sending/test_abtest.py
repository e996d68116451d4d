"""A/B tests: a random test share of the audience split between the variants at launch, each message sent
with its variant, the rest parked until the winner (by people's clicks through the tracking route) goes to
them; one ledger row and one message per address."""

import email
import email.policy
import re
from collections import Counter
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlmodel import Session, col

from app.main import create_app
from app.models import Campaign, Delivery, utcnow
from app.sending import abtest
from app.sending import campaigns as service
from tests.sending.conftest import bulk_list, campaign_state, make_campaign, relay_settings, run_worker_until
from tests.sending.sink import Sink, SinkServer
from tests.tracking.support import settle_all

CHROME = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"
HTML = ('<html><body><p>Hello {{ first_name }}</p><a href="https://shop.example/sale">Sale</a> '
        '<a href="https://shop.example/news">News</a> <a href="{{ unsubscribe_url }}">unsubscribe</a></body></html>')  # fmt: skip
TEXT = "Hello {{ first_name }}\nSale: https://shop.example/sale\n"
TEST = {"percent": 20, "wait_minutes": 60, "pick": "clicks"}
VARIANTS = [{"subject": "Offer A"}, {"subject": "Offer B", "from_name": "Shop B"}]


def _ab_campaign(session: Session, list_id: int, test=TEST, variants=VARIANTS) -> Campaign:  # type: ignore[no-untyped-def]
    campaign = make_campaign(session, [list_id], html_template=HTML, text_template=TEXT, tracking="contact",
                             ab_test=abtest.check(test, variants))  # fmt: skip
    abtest.set_variants(session, campaign, variants)
    session.commit()
    return campaign


def _ledger(engine, campaign_id: int) -> list[tuple[str, str, int | None]]:  # type: ignore[no-untyped-def]
    with Session(engine) as s:
        return [tuple(r) for r in s.execute(  # type: ignore[misc]
            select(col(Delivery.email_key), col(Delivery.state), col(Delivery.variant)).where(
                col(Delivery.campaign_id) == campaign_id))]  # fmt: skip


def test_the_launch_splits_the_test_share_between_the_variants_and_parks_the_rest(settings, engine, session):
    lists = bulk_list(engine, "many", 1000), bulk_list(engine, "many2", 1000, domain="two.test")
    campaign = _ab_campaign(session, lists[0])
    service.launch(session, campaign, settings, utcnow())
    session.commit()
    rows = _ledger(engine, campaign.id)
    assert len(rows) == len({k for k, _, _ in rows}) == 1000
    by_variant = Counter(v for _, _, v in rows)
    assert by_variant == {1: 100, 2: 100, None: 800}
    assert {s for _, s, v in rows if v is None} == {"waiting"}  # parked: no claim takes them
    progress = service.status(session, campaign.id, utcnow())[1]
    assert progress.counts["waiting"] == 800 and progress.counts["queued"] == 200
    session.commit()
    # a second launch of the same audience is random: not the same 200 addresses
    other = _ab_campaign(session, lists[1])
    service.launch(session, other, settings, utcnow())
    session.commit()
    firsts = sorted(int(k[1:].split("@")[0]) for k, _, v in _ledger(engine, other.id) if v is not None)
    assert firsts != sorted(int(k[1:].split("@")[0]) for k, _, v in rows if v is not None)


@pytest.mark.parametrize(
    ("test", "variants", "field"),
    [
        (TEST, VARIANTS[:1], "variants"),
        (TEST, VARIANTS * 3, "variants"),
        ({**TEST, "percent": 0}, VARIANTS, "ab_test.percent"),
        ({**TEST, "wait_minutes": -1}, VARIANTS, "ab_test.wait_minutes"),
        ({**TEST, "pick": "luck"}, VARIANTS, "ab_test.pick"),
        (TEST, [{"subject": " "}, {"subject": "B"}], "variants[0].subject"),
        (TEST, [{"colour": "red"}, {"subject": "B"}], "variants[0].colour"),
        (TEST, [{}, {"subject": "B"}], "variants[0]"),
        (None, VARIANTS, "ab_test"),
    ],
)
def test_a_test_that_cannot_run_is_refused_naming_the_field(test, variants, field) -> None:
    with pytest.raises(abtest.TestInvalid) as caught:
        abtest.check(test, variants)
    assert caught.value.field == field


def _parsed(raw: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(raw.replace(b"\r\n..", b"\r\n."), policy=email.policy.default)  # type: ignore[return-value]


def test_the_variant_with_more_clicks_goes_to_the_rest_without_duplicates(settings, engine, session):
    """1,000 deliveries to the bench sink (a recording SMTP server): 20 % tested in two variants, people click
    B's messages more through the tracking route; the winner job picks B and sends it to the other 800."""
    settings = settings.model_copy(update={"tracking_prefetch_seconds": 0.0, "tracking_burst_seconds": 0.0})
    campaign = _ab_campaign(session, bulk_list(engine, "many", 1000))
    launched_at = utcnow() - timedelta(hours=2)  # the waiting time is over when the clicks are in
    service.launch(session, campaign, settings, launched_at)
    session.commit()
    sink = Sink()
    with SinkServer(sink) as server:
        s = relay_settings(settings, server.port)
        run_worker_until(s, engine, lambda: len(sink.accepted) >= 200, timeout=120)
        assert campaign_state(engine, campaign.id) == "sending"  # the parked rows keep it open
        tested = [_parsed(a.data) for a in sink.accepted]
        assert Counter(str(m["Subject"]) for m in tested) == {"Offer A": 100, "Offer B": 100}
        assert {str(m["From"]).split(" <")[0] for m in tested if m["Subject"] == "Offer B"} == {"Shop B"}
        # people click: every other B message, one in ten A messages (the first tracked link)
        with TestClient(create_app(settings)) as client:
            seen = Counter[str]()
            for m in tested:
                subject = str(m["Subject"])
                seen[subject] += 1
                if (subject == "Offer B" and seen[subject] % 2) or (subject == "Offer A" and seen[subject] % 10 == 0):
                    body = m.get_body(("html",)).get_content()  # type: ignore[union-attr]
                    click = re.findall(r'href="[^"]+(/t/c/[^"]+)"', body)[0]
                    r = client.get(click, headers={"User-Agent": CHROME}, follow_redirects=False)
                    assert r.status_code == 302
            client.app.state.recorder.flush()
        settle_all(engine, settings)
        with Session(engine) as sess:
            figs = abtest.figures(sess, campaign.id)
            assert [(f.number, f.sent, f.clicked) for f in figs] == [(1, 100, 10), (2, 100, 50)]
            assert abtest.significance(figs, "clicks")["significant"] is True
            # before the waiting time nothing is decided
            assert abtest.decide_due(sess, launched_at + timedelta(minutes=30)) == {}
            assert abtest.decide_due(sess, utcnow()) == {campaign.id: 2}
            sess.commit()
        run_worker_until(s, engine, lambda: campaign_state(engine, campaign.id) == "completed", timeout=300)
    delivered = Counter(a.rcpt for a in sink.accepted)
    assert len(delivered) == 1000 and max(delivered.values()) == 1  # 0 duplicates
    rest = [_parsed(a.data) for a in sink.accepted[200:]]
    assert {str(m["Subject"]) for m in rest} == {"Offer B"}
    rows = _ledger(engine, campaign.id)
    assert len(rows) == 1000 and Counter(v for _, _, v in rows) == {1: 100, 2: 900}
    with Session(engine) as sess:
        assert sess.execute(select(func.count()).where(col(Delivery.campaign_id) == campaign.id,
                                                       col(Delivery.state) != "sent")).scalar_one() == 0  # fmt: skip
        with pytest.raises(abtest.TestInvalid):  # chosen once
            abtest.choose(sess, sess.get(Campaign, campaign.id), 1, service.timing_of(campaign), utcnow())


def test_the_api_sets_a_test_names_a_bad_field_and_takes_a_marketers_winner(client, session, settings, engine):
    lst = bulk_list(engine, "few", 10)
    made = client.post("/api/v1/campaigns", json={"name": "AB", "from_address": "news@example.test", "subject": "Hi",
                                                  "text_template": TEXT, "list_ids": [lst]})  # fmt: skip
    assert made.status_code == 201, made.text
    cid = made.json()["id"]
    bad = client.put(
        f"/api/v1/campaigns/{cid}/ab-test", json={"ab_test": {**TEST, "percent": 101}, "variants": VARIANTS}
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["loc"] == ["body", "ab_test.percent"]
    broken = [{"subject": "A"}, {"html_template": "<p>{{ frist_name }}</p>"}]
    bad = client.put(f"/api/v1/campaigns/{cid}/ab-test", json={"ab_test": TEST, "variants": broken})
    assert bad.status_code == 422 and bad.json()["errors"][0]["loc"] == ["body", "variants[1].html_template"], bad.text
    manual = {**TEST, "pick": "manual", "percent": 50}
    ok = client.put(f"/api/v1/campaigns/{cid}/ab-test", json={"ab_test": manual, "variants": VARIANTS})
    assert ok.status_code == 200 and [v["subject"] for v in ok.json()["variants"]] == ["Offer A", "Offer B"]
    assert client.post(f"/api/v1/campaigns/{cid}/launch").status_code == 200
    report = client.get(f"/api/v1/campaigns/{cid}/ab-test").json()
    assert report["winner"] is None and report["significant"] is False and "not significant" in report["note"]
    with Session(engine) as s:  # a manual test is never decided by the job
        assert abtest.decide_due(s, utcnow() + timedelta(days=60)) == {}
    assert client.post(f"/api/v1/campaigns/{cid}/winner", json={"variant": 7}).json()["errors"][0]["loc"] == [
        "body", "variant"]  # fmt: skip
    chosen = client.post(f"/api/v1/campaigns/{cid}/winner", json={"variant": 2})
    assert chosen.status_code == 200 and chosen.json()["winner"] == 2
    assert Counter(v for _, _, v in _ledger(engine, cid)) == {1: 3, 2: 7}
    again = client.post(f"/api/v1/campaigns/{cid}/winner", json={"variant": 1})
    assert again.status_code == 422 and "already" in again.json()["errors"][0]["msg"]

"""Pacing per receiving domain: what counts as throttling, provider grouping (table and MX through a
DNS server on loopback), and the shared state two workers pace against (rate, pause, AIMD, warm-up)."""

import html
import re
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import dns.message
import dns.rdatatype
import dns.rrset
import pytest
from sqlalchemy import Engine, select, update
from sqlmodel import Session, col

from app.models import Delivery, PacingState
from app.sending import campaigns as service
from app.sending import ledger
from app.sending.pacing import Pacer, is_throttling
from app.sending.providers import ProviderMap
from app.settings import Settings
from tests.sending.conftest import make_campaign, make_list
from tests.support.polling import wait_for
from tests.web.conftest import web  # noqa: F401  # the signed-in page fixture

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
LEASE = timedelta(minutes=5)


@pytest.mark.parametrize(
    ("code", "text"),
    [
        (421, "4.7.0 [TSS04] Messages from 192.0.2.1 temporarily deferred due to unexpected volume or user complaints"),
        (421, "4.7.28 Our system has detected an unusual rate of unsolicited mail originating from your IP address."),
        (451, "4.7.650 The mail server [192.0.2.1] has been temporarily rate limited due to IP reputation."),
        (450, "4.7.1 <a@slow.test>: Recipient address rejected: Too many messages, slow down"),
        (452, "Too many connections from your host."),
    ],
)
def test_providers_rate_limit_replies_are_throttling(code: int, text: str) -> None:
    assert is_throttling(code, text)


@pytest.mark.parametrize(
    ("code", "text"),
    [
        (450, "4.2.0 <a@b.test>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/"),
        (451, "4.7.1 Greylisted, please try again in 300 seconds"),
        (452, "4.2.2 Mailbox full"),
        (550, "5.7.1 Too many messages, slow down"),  # a refusal: the recipient fails, the pace is not the issue
        (250, "2.0.0 Ok"),
    ],
)
def test_greylisting_full_mailboxes_and_refusals_are_not_throttling(code: int, text: str) -> None:
    assert not is_throttling(code, text)


class _MXServer:
    """A DNS server on loopback answering MX queries from a dict (name -> exchanges)."""

    def __init__(self, answers: dict[str, list[str]]) -> None:
        self.answers = answers
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                data, peer = self.sock.recvfrom(4096)
            except OSError:
                return
            query = dns.message.from_wire(data)
            reply = dns.message.make_response(query)
            question = query.question[0]
            name = question.name.to_text().rstrip(".")
            if question.rdtype == dns.rdatatype.MX and name in self.answers:
                mx = [f"{10 * (i + 1)} {host}" for i, host in enumerate(self.answers[name])]
                reply.answer.append(dns.rrset.from_text(question.name, 300, "IN", "MX", *mx))
            else:
                reply.set_rcode(3)  # NXDOMAIN
            self.sock.sendto(reply.to_wire(), peer)

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def mx_server() -> Iterator[_MXServer]:
    server = _MXServer({
        "hosted-mail.org": ["aspmx.l.google.com.", "alt1.aspmx.l.google.com."],
        "o365-mail.org": ["o365-test.mail.protection.outlook.com."],
        "aol-mail.org": ["mx-aol.mail.gm0.yahoodns.net."],
        "own-mail.org": ["mx.own-mail.org."],
    })  # fmt: skip
    yield server
    server.close()


def test_a_providers_domains_are_one_by_table_and_by_mx(mx_server: _MXServer) -> None:
    providers = ProviderMap(Settings(_env_file=None, dns_server=f"127.0.0.1:{mx_server.port}"))
    try:
        assert {providers.key(d) for d in ("gmail.com", "googlemail.com")} == {"google"}
        assert {providers.key(d) for d in ("hotmail.com", "outlook.com", "live.com", "msn.com")} == {"microsoft"}
        assert {providers.key(d) for d in ("yahoo.com", "aol.com")} == {"yahoo"}
        # unknown domains are paced on their own until their MX answer is in, then with their provider
        assert providers.key("hosted-mail.org") == "hosted-mail.org"
        wait_for(lambda: providers.key("hosted-mail.org") == "google", 10, "the MX answer of hosted-mail.org")
        wait_for(lambda: providers.key("o365-mail.org") == "microsoft", 10, "the MX answer of o365-mail.org")
        wait_for(lambda: providers.key("aol-mail.org") == "yahoo", 10, "the MX answer of aol-mail.org")
        wait_for(lambda: providers.key("nowhere-at-all.org") == "nowhere-at-all.org" and "nowhere-at-all.org" in providers._known, 10,
                 "the failed lookup")  # fmt: skip
        providers.key("own-mail.org")
        wait_for(lambda: "own-mail.org" in providers._known, 10, "the MX answer of own-mail.org")
        assert providers.key("own-mail.org") == "own-mail.org"  # an MX of its own: paced on its own
        # special-use names (.test, example.com) are never looked up
        assert providers.key("shop.test") == "shop.test" and providers.key("example.com") == "example.com"
        assert "shop.test" not in providers._pending and "shop.test" not in providers._known
    finally:
        providers.close()


def test_an_unreachable_dns_server_leaves_domains_on_their_own() -> None:
    providers = ProviderMap(Settings(_env_file=None, dns_server="127.0.0.1:9"))  # nothing listens there
    try:
        assert providers.key("unknown-domain.org") == "unknown-domain.org"
        wait_for(lambda: "unknown-domain.org" in providers._known, 10, "the failed lookup")
        assert providers.key("unknown-domain.org") == "unknown-domain.org"
    finally:
        providers.close()


def _pacing(settings: Settings, **kw: object) -> Settings:
    return settings.model_copy(update={"dns_server": "127.0.0.1:9", **kw})


def _launch(session: Session, settings: Settings, addresses: list[str]) -> int:
    lst = make_list(session, "paced", [(a, "P", {"city": "Oslo"}) for a in addresses])
    campaign = make_campaign(session, [lst.id])
    service.launch(session, campaign, settings, NOW - timedelta(minutes=1))
    session.commit()
    assert campaign.id is not None
    return campaign.id


def _claim(engine: Engine, pacer: Pacer, campaign_id: int, owner: str, now: datetime) -> list[str]:
    """One worker's claim: the addresses it may send now."""
    with Session(engine) as s:
        rows = ledger.claim(s, [campaign_id], 100, LEASE, owner, now)
        admitted = pacer.admit(s, rows, now)
        s.commit()
    return [r.email for r in admitted]


def _sent(engine: Engine, campaign_id: int, emails: list[str]) -> list[str]:
    """Record these rows as sent (as the worker would), so their leases never bring them back."""
    with Session(engine) as s:
        s.execute(
            update(Delivery)
            .where(col(Delivery.campaign_id) == campaign_id, col(Delivery.email).in_(emails))
            .values(state="sent", next_attempt_at=None, lease_owner=None, lease_until=None)
        )
        s.commit()
    return emails


def _waiting(engine: Engine, campaign_id: int) -> list[Delivery]:
    with Session(engine) as s:
        return list(
            s.execute(
                select(Delivery).where(
                    col(Delivery.campaign_id) == campaign_id,
                    col(Delivery.lease_owner).is_(None),
                    col(Delivery.state).in_(ledger.DUE_STATES),
                )
            ).scalars()
        )


def test_two_workers_share_one_rate_per_domain_and_others_go_at_full_speed(settings, engine, session) -> None:  # type: ignore[no-untyped-def]
    s = _pacing(settings, pacing_providers={"slow.test": {"rate": 1}})
    slow = [f"s{i}@slow.test" for i in range(6)]
    fast = [f"f{i}@fast.test" for i in range(6)]
    campaign_id = _launch(session, s, slow + fast)
    one, two = Pacer(s), Pacer(s)
    sent = _claim(engine, one, campaign_id, "one", NOW) + _claim(engine, two, campaign_id, "two", NOW)
    assert sorted(a for a in sent if a.endswith("@fast.test")) == sorted(fast)
    assert len([a for a in sent if a.endswith("@slow.test")]) == 2  # 1 per second, a second's burst
    waiting = sorted(_waiting(engine, campaign_id), key=lambda d: d.next_attempt_at)  # type: ignore[arg-type,return-value]
    assert len(waiting) == 4 and all(d.email.endswith("@slow.test") for d in waiting)
    assert waiting[0].next_attempt_at > NOW + timedelta(seconds=1)  # type: ignore[operator]
    # at the time their slots come, the other worker sends them, still at one a second
    later = NOW + timedelta(seconds=2)
    assert len(_claim(engine, two, campaign_id, "two", later)) >= 1


def test_throttling_halves_the_rate_pauses_the_domain_and_steady_success_restores_it(settings, engine, session) -> None:  # type: ignore[no-untyped-def]
    s = _pacing(settings, pacing_rate=8.0, pacing_increase=2.0, pacing_increase_every=2, pacing_backoff_seconds=60)
    campaign_id = _launch(session, s, [f"t{i}@slow.test" for i in range(4)] + ["x@fast.test"])
    worker, other = Pacer(s), Pacer(s)
    with Session(engine) as sess:
        rows = ledger.claim(sess, [campaign_id], 100, LEASE, "w", NOW)
        admitted = worker.admit(sess, rows, NOW)
        sess.commit()
    slow_rows = [r for r in admitted if r.email.endswith("@slow.test")]
    assert worker.answered(slow_rows[0], 421, "4.7.0 <t0@slow.test>: Too many messages, slow down") is not None
    assert worker.paused_until(slow_rows[1]) is not None  # the rest of its batch is held back at once
    with Session(engine) as sess:
        ledger.release(sess, [(r.id, NOW) for r in rows])
        worker.settle(sess, [r.id for r in rows], NOW)
        sess.commit()
    with Session(engine) as sess:
        st = sess.get(PacingState, "slow.test")
        assert st is not None and st.rate == 4.0 and st.throttled_until == NOW + timedelta(seconds=60)
        assert sess.get(PacingState, "fast.test").throttled_until is None  # type: ignore[union-attr]
    # the paused domain's rows wait in the ledger for everyone; the other domain's do not
    assert _claim(engine, other, campaign_id, "other", NOW) == ["x@fast.test"]
    waiting = [d for d in _waiting(engine, campaign_id) if d.email.endswith("@slow.test")]
    assert waiting and all(d.next_attempt_at >= NOW + timedelta(seconds=60) for d in waiting)  # type: ignore[operator]
    # after the pause: successes raise the rate by 2 per 2 successes, back to 8 = the configured rate
    after = NOW + timedelta(seconds=61)
    with Session(engine) as sess:
        rows = ledger.claim(sess, [campaign_id], 100, LEASE, "other", after)
        admitted = other.admit(sess, rows, after)
        sess.commit()
    assert len(admitted) == 4  # at 4 a second, a second's worth
    for n, r in enumerate(admitted):
        other.answered(r, 250, "2.0.0 Ok")
        if n == 1:
            with Session(engine) as sess:
                other.settle(sess, [], after)
                sess.commit()
                assert sess.get(PacingState, "slow.test").rate == 6.0  # type: ignore[union-attr]
    with Session(engine) as sess:
        other.settle(sess, [r.id for r in admitted], after)
        sess.commit()
        st = sess.get(PacingState, "slow.test")
        assert st is not None and st.rate is None and st.throttles == 0  # back at the configured rate


def test_a_warmup_caps_each_day_and_holds_the_rest_for_the_next(settings, engine, session) -> None:  # type: ignore[no-untyped-def]
    s = _pacing(settings, pacing_warmup={"*": [3, 5]})
    campaign_id = _launch(session, s, [f"w{i}@new.test" for i in range(10)])
    one, two = Pacer(s), Pacer(s)
    assert len(_sent(engine, campaign_id, _claim(engine, one, campaign_id, "one", NOW))) == 3
    assert _claim(engine, two, campaign_id, "two", NOW + timedelta(hours=1)) == []  # the cap is shared
    tomorrow = datetime(2026, 12, 8, tzinfo=UTC)
    waiting = _waiting(engine, campaign_id)
    assert len(waiting) == 7 and {d.next_attempt_at for d in waiting} == {tomorrow}
    day_two = _claim(engine, two, campaign_id, "two", tomorrow + timedelta(minutes=1))
    assert len(_sent(engine, campaign_id, day_two)) == 5
    assert len(_claim(engine, one, campaign_id, "one", tomorrow + timedelta(days=1))) == 2  # past the schedule


def test_the_campaign_page_lists_the_slowed_domains_a_page_at_a_time(settings, engine, session, web) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    campaign_id = _launch(session, _pacing(settings), ["a@fast.test"])
    until = datetime.now(UTC) + timedelta(minutes=10)
    with Session(engine) as s:
        for i in range(25):
            s.add(PacingState(key=f"slow{i:02}.test", rate=2.5, throttled_until=until, throttles=1,
                              last_reply="421 4.7.0 Try again later"))  # fmt: skip
        s.add(PacingState(key="recovered.test", rate=None, throttled_until=NOW))  # back at full speed: not shown
        s.commit()
    first = web.get(f"/campaigns/{campaign_id}").text
    shown = [f"slow{i:02}.test" for i in range(25) if f"slow{i:02}.test" in first]
    assert shown == [f"slow{i:02}.test" for i in range(20)] and "recovered.test" not in first
    assert "2.5 per second" in first and "421 4.7.0 Try again later" in first
    next_url = re.search(r'href="([^"]*paced=[^"]*)" rel="next"', first)
    assert next_url is not None
    second = web.get(html.unescape(next_url.group(1))).text
    assert [f"slow{i:02}.test" for i in range(25) if f"slow{i:02}.test" in second] == [
        f"slow{i:02}.test" for i in range(20, 25)
    ]

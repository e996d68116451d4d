"""POST /api/v1/campaigns/{id}/preflight against a real DNS server (NSD) serving the test zone, a real
relay greeting and Debian's SpamAssassin: each misalignment the zone or the message is given is named,
with what to change; a zone where everything is right reports no problem."""

import re
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from app.deliverability.preflight import setup as sending_setup
from app.deliverability.preflight.service import check_setup
from app.dns_lookup import resolver
from app.main import create_app
from app.models import Campaign
from app.secret_key import get_secret_key
from app.sending import identities
from app.sending.compose import Composer
from app.sending.identity_schemas import IdentityCreate
from app.settings import Settings
from tests.conftest import make_api_key
from tests.deliverability.conftest import SELECTOR, Zone, new_key, txt
from tests.users.support import make_user_of, signed_in

HTML = '<p>Hello {{ first_name }}, our spring range is in.</p><p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>'
TEXT = "Hello {{ first_name }}, our spring range is in.\n\nUnsubscribe: {{ unsubscribe_url }}\n"
GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"


def _campaign(client: TestClient, **kw: Any) -> int:
    body = dict(name="Spring news", from_name="Shop", from_address="news@example.test", subject="Spring news",
                html_template=HTML, text_template=TEXT, list_ids=[]) | kw  # fmt: skip
    resp = client.post("/api/v1/campaigns", json=body)
    assert resp.status_code == 201, resp.text
    return int(resp.json()["id"])


def _preflight(client: TestClient, campaign_id: int, refresh: bool = True) -> dict[str, Any]:
    resp = client.post(f"/api/v1/campaigns/{campaign_id}/preflight", json={"refresh": refresh})
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


def _problems(report: dict[str, Any], check: str) -> list[dict[str, Any]]:
    return [p for p in report["problems"] if p["check"] == check]


def _only_problem(report: dict[str, Any], check: str) -> dict[str, Any]:
    """The report's one problem, of CHECK: everything else in the zone is right."""
    assert [p["check"] for p in report["problems"]] == [check], report["problems"]
    assert report["ok"] is False
    return report["problems"][0]


def test_a_zone_where_everything_is_right_reports_no_problem(client: TestClient) -> None:
    report = _preflight(client, _campaign(client))
    assert report["ok"] is True, report["problems"]
    assert report["problems"] == [] and report["warnings"] == []
    passed = {c["check"] for c in report["checks"] if c["status"] == "ok"}
    assert passed == {"ptr", "helo", "spf", "dkim", "dmarc", "alignment", "list_unsubscribe", "unsubscribe_link",
                      "size", "spam_score"}  # fmt: skip
    assert all(c["fix"] is None for c in report["checks"])
    spam = next(c for c in report["checks"] if c["check"] == "spam_score")
    assert "SpamAssassin scores the message" in spam["message"]


def test_spf_that_does_not_list_the_relay_fails_naming_what_to_add(client: TestClient, zone: Zone) -> None:
    zone.zones["example.test"]["@ TXT"] = txt("v=spf1 ip4:192.0.2.10 -all")
    zone.publish()
    found = _only_problem(_preflight(client, _campaign(client)), "spf")
    assert "SPF of example.test does not let the relay 127.0.0.1 send (result: fail)" in found["message"]
    assert "add ip4:127.0.0.1" in found["fix"]


def test_no_spf_record_at_all(client: TestClient, zone: Zone) -> None:
    del zone.zones["example.test"]["@ TXT"]
    zone.publish()
    found = _only_problem(_preflight(client, _campaign(client)), "spf")
    assert "example.test (the envelope domain, from the bounce address) has no SPF record" in found["message"]
    assert '"v=spf1 ip4:127.0.0.1 -all"' in found["fix"]


def test_a_missing_dkim_record_names_the_record_to_publish(client: TestClient, zone: Zone) -> None:
    del zone.zones["example.test"][f"{SELECTOR}._domainkey TXT"]
    zone.publish()
    found = _only_problem(_preflight(client, _campaign(client)), "dkim")
    assert found["message"].startswith(f"there is no DKIM record at {SELECTOR}._domainkey.example.test")
    assert f"v=DKIM1; k=rsa; p={zone.p}" in found["fix"]


def test_a_campaign_with_a_sending_identity_is_checked_with_that_identitys_key(client: TestClient, zone: Zone) -> None:
    r = client.post("/api/v1/identities", json={"name": "shop", "from_domain": "example.test",
                                                "bounce_address": "bounces@example.test", "dkim_selector": "shop1"})  # fmt: skip
    assert r.status_code == 201, r.text
    identity = r.json()
    campaign = _campaign(client, identity_id=identity["id"])
    found = _only_problem(_preflight(client, campaign), "dkim")
    assert found["message"].startswith("there is no DKIM record at shop1._domainkey.example.test")
    assert f"p={identity['dkim_public_key']}" in found["fix"]
    # once the identity's record is published, the campaign passes
    zone.zones["example.test"]["shop1._domainkey TXT"] = txt(identity["dkim_record"]["value"])
    zone.publish()
    assert _preflight(client, campaign)["problems"] == []


def test_a_dkim_record_with_another_key_is_a_mismatch(client: TestClient, zone: Zone) -> None:
    zone.zones["example.test"][f"{SELECTOR}._domainkey TXT"] = txt(f"v=DKIM1; k=rsa; p={new_key()[1]}")
    zone.publish()
    found = _only_problem(_preflight(client, _campaign(client)), "dkim")
    assert "holds another key than the one messages are signed with" in found["message"]
    assert f"p={zone.p}" in found["fix"]


def test_no_dmarc_policy(client: TestClient, zone: Zone) -> None:
    del zone.zones["example.test"]["_dmarc TXT"]
    zone.publish()
    found = _only_problem(_preflight(client, _campaign(client)), "dmarc")
    assert "example.test (the From domain) has no DMARC policy" in found["message"]
    assert "_dmarc.example.test" in found["fix"] and "v=DMARC1; p=none" in found["fix"]


def test_a_from_domain_that_is_not_the_signing_domain_is_misaligned(client: TestClient, zone: Zone) -> None:
    zone.zones["brand.test"] = {"_dmarc TXT": txt("v=DMARC1; p=reject")}
    zone.publish()
    report = _preflight(client, _campaign(client, from_address="news@brand.test"))
    assert [p["check"] for p in report["problems"]] == ["alignment", "alignment"]
    dkim, envelope = report["problems"]
    assert "d=example.test is not aligned with the From domain brand.test (relaxed alignment" in dkim["message"]
    assert "sign with d=brand.test" in dkim["fix"]
    assert "envelope domain example.test (of the bounce address) is not aligned" in envelope["message"]
    assert "use a bounce address at brand.test" in envelope["fix"]


def test_strict_alignment_refuses_a_subdomain(client: TestClient, zone: Zone) -> None:
    zone.zones["example.test"]["_dmarc TXT"] = txt("v=DMARC1; p=reject; adkim=s; aspf=s")
    zone.zones["example.test"]["news TXT"] = txt("v=spf1 ip4:127.0.0.1 -all")
    zone.publish()
    report = _preflight(client, _campaign(client, from_address="shop@news.example.test"))
    messages = [p["message"] for p in _problems(report, "alignment")]
    assert any("d=example.test is not aligned with the From domain news.example.test (strict" in m for m in messages)


def test_a_relay_without_ptr_and_a_helo_name_that_does_not_resolve(client: TestClient, zone: Zone) -> None:
    del zone.zones["127.in-addr.arpa"]["1.0.0 PTR"]
    del zone.zones["example.test"]["relay A"]
    zone.publish()
    report = _preflight(client, _campaign(client))
    ptr, helo = report["problems"]
    assert ptr["message"].startswith("the relay's address 127.0.0.1 has no PTR record")
    assert "relay greets as relay.example.test, which does not resolve to its address 127.0.0.1" in helo["message"]


def test_a_message_without_list_unsubscribe_post_is_named(settings: Settings, engine: Engine, session: Session) -> None:
    """The pair a sending identity's custom headers could break: checked on any SendingSetup."""
    campaign = Campaign(name="n", from_address="news@example.test", subject="s", html_template=HTML,
                        text_template=TEXT)  # fmt: skip
    message = Composer(campaign, settings, get_secret_key(settings, engine), None).message("a@example.test", "A", None,
                                                                                           {}, contact_id=0)  # fmt: skip
    without = b"".join(
        line for line in message.splitlines(keepends=True) if not line.startswith(b"List-Unsubscribe-Post")
    )
    setup = sending_setup.for_sending(
        settings,
        resolver(settings),
        from_address="news@example.test",
        bounce_address=settings.bounce_address,
        signer=None,
        message=without,
    )
    found = [f for f in check_setup(setup, settings).findings if f.check == "list_unsubscribe"]
    assert [f.status for f in found] == ["problem"]
    assert "not List-Unsubscribe-Post: List-Unsubscribe=One-Click" in found[0].message
    assert found[0].fix == "add the header List-Unsubscribe-Post: List-Unsubscribe=One-Click beside List-Unsubscribe"


def test_bodies_without_a_visible_unsubscribe_link(client: TestClient) -> None:
    report = _preflight(client, _campaign(client, html_template="<p>Hello</p>", text_template="Hello\n"))
    html, text = _problems(report, "unsubscribe_link")
    assert html["message"] == "the HTML body has no visible unsubscribe link"
    assert '<a href="{{ unsubscribe_url }}">Unsubscribe</a>' in html["fix"]
    assert text["message"] == "the text body has no visible unsubscribe link"
    assert report["ok"] is False


def test_a_message_that_is_too_large(client: TestClient) -> None:
    big = HTML + "<p>" + "Our whole catalogue, every item described at length. " * 3000 + "</p>"
    found = _problems(_preflight(client, _campaign(client, html_template=big)), "size")
    assert len(found) == 1
    assert "more than 102 KB: Gmail clips it" in found[0]["message"]


def test_a_high_spam_score_names_the_rules_hit(client: TestClient) -> None:
    found = _problems(_preflight(client, _campaign(client, text_template=TEXT + GTUBE + "\n")), "spam_score")
    assert len(found) == 1
    assert "at or above its spam threshold 5" in found[0]["message"]
    assert "GTUBE" in found[0]["message"]


def test_results_are_kept_until_asked_again(client: TestClient, zone: Zone) -> None:
    campaign_id = _campaign(client)
    first = _preflight(client, campaign_id, refresh=False)
    assert first["ok"] is True and first["cached"] is False
    zone.zones["example.test"]["@ TXT"] = txt("v=spf1 -all")
    zone.publish()
    again = _preflight(client, campaign_id, refresh=False)
    assert again["cached"] is True and again["ok"] is True and again["checked_at"] == first["checked_at"]
    fresh = _preflight(client, campaign_id, refresh=True)
    assert fresh["cached"] is False and [p["check"] for p in fresh["problems"]] == ["spf"]


def test_an_unknown_campaign_is_a_404_problem(client: TestClient) -> None:
    resp = client.post("/api/v1/campaigns/999999/preflight")
    assert resp.status_code == 404
    assert resp.headers["content-type"].startswith("application/problem+json")


def test_the_campaign_page_leads_to_the_preflight_page_which_names_each_problem(
    anon_client: TestClient, engine: Engine, zone: Zone
) -> None:
    """A viewer too: the page changes nothing. Before a run it only offers one; a run lists problems first."""
    make_user_of(engine, "viewer")
    browser = signed_in(anon_client, "viewer@example.test")
    with Session(engine) as s:
        campaign = Campaign(name="Spring news", from_address="news@example.test", subject="Spring news",
                            html_template="<p>Hello</p>", text_template=TEXT)  # fmt: skip
        s.add(campaign)
        s.commit()
        campaign_id = campaign.id
    del zone.zones["example.test"]["_dmarc TXT"]
    zone.publish()
    page = browser.get(f"/campaigns/{campaign_id}").text
    assert f'href="/campaigns/{campaign_id}/preflight?run=1"' in page
    assert "Not checked yet." in browser.get(f"/campaigns/{campaign_id}/preflight").text
    page = browser.get(f"/campaigns/{campaign_id}/preflight?run=1").text
    assert "2 problems to fix before launch." in page
    rows = re.findall(
        r'<tr class="finding (\w+)">\s*<td>([^<]+)</td>.*?<td>([^<]*)</td>\s*<td>([^<]*)</td>', page, re.S
    )
    assert [(status, check) for status, check, _, _ in rows[:2]] == [
        ("problem", "DMARC"),
        ("problem", "Unsubscribe link"),
    ]
    assert "example.test (the From domain) has no DMARC policy" in rows[0][2]
    assert "the HTML body has no visible unsubscribe link" in rows[1][2]
    assert all(status in ("ok", "skipped") for status, *_ in rows[2:])
    # the result is kept: the page shows it without checking again
    assert "kept from an earlier check" in browser.get(f"/campaigns/{campaign_id}/preflight").text


def test_a_providers_outbound_addresses_and_helo_name_are_checked_in_place_of_the_relays(
    settings: Settings, engine: Engine, zone: Zone
) -> None:
    """BULKMAIL_SENDING_ADDRESSES / _HELO_NAME: what receivers see when the relay hands the mail on."""
    zone.zones["2.0.192.in-addr.arpa"] = {"7 PTR": "out.example.test."}
    zone.zones["example.test"]["out A"] = "192.0.2.7"
    zone.publish()
    outbound = settings.model_copy(update={"sending_addresses": ["192.0.2.7"], "sending_helo_name": "out.example.test"})
    with TestClient(create_app(outbound)) as client:
        client.headers["Authorization"] = f"Bearer {make_api_key(engine)}"
        report = _preflight(client, _campaign(client))
    found = _only_problem(report, "spf")
    assert "does not let 192.0.2.7 (relay 127.0.0.1) send" in found["message"]
    assert "add ip4:192.0.2.7" in found["fix"]
    passed = {c["message"] for c in report["checks"] if c["check"] in ("ptr", "helo")}
    assert passed == {"the PTR of 192.0.2.7 is out.example.test, which resolves back to it",
                      "the relay greets as out.example.test, which resolves to its address"}  # fmt: skip


def test_an_identitys_page_checks_its_own_key_and_names_what_to_publish(
    anon_client: TestClient, engine: Engine, settings: Settings, zone: Zone
) -> None:
    make_user_of(engine, "admin")
    browser = signed_in(anon_client, "admin@example.test")
    with Session(engine) as s:
        brand = identities.create(
            s, settings, IdentityCreate(name="brand", from_domain="example.test", dkim_selector="brand1")
        )
        s.commit()
        brand_id, record = brand.id, identities.dkim_record(brand)
    page = browser.get(f"/settings/identities/{brand_id}").text
    assert "Not checked yet." in page and f'href="/settings/identities/{brand_id}?preflight=1#preflight-h"' in page
    page = browser.get(f"/settings/identities/{brand_id}?preflight=1").text
    assert "1 problem to fix before launch." in page
    assert "there is no DKIM record at brand1._domainkey.example.test" in page and record.value in page
    zone.zones["example.test"]["brand1._domainkey TXT"] = txt(record.value)
    zone.publish()
    assert "No problem found." in browser.get(f"/settings/identities/{brand_id}?preflight=1").text

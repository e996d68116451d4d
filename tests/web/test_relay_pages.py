"""The relay and identity pages: add with errors next to the field, the password write-only, the state a
worker recorded, and the DKIM record to publish (never the key)."""

import html
import re

from sqlalchemy import Engine
from sqlmodel import Session, select

from app.models import Campaign, Relay, utcnow
from app.sending import relays
from app.sending.relays import RelayStatus
from tests.web.conftest import Browser


def test_relays_are_added_show_their_state_and_keep_the_password(web: Browser, engine: Engine) -> None:
    bad = web.post("/settings/relays", {"name": "main", "host": "relay .example", "port": "99999", "weight": "1"})
    assert bad.status_code == 400 and 'id="host-error"' in bad.text and 'id="port-error"' in bad.text
    form = {"name": "main", "host": "127.0.0.1", "port": "2587", "security": "starttls", "username": "noreply",
            "password": "hunter2-secret", "connections": "2", "rate": "0", "weight": "3", "enabled": "on"}  # fmt: skip
    r = web.post("/settings/relays", form, follow_redirects=True)
    assert r.status_code == 200 and 'Relay "main" saved.' in html.unescape(r.text)
    assert "hunter2-secret" not in r.text and "not used yet" in r.text
    with Session(engine) as session:
        relay_id = session.exec(select(Relay.id)).one()
        assert relay_id is not None
        relays.record_states(session, [RelayStatus(relay_id, utcnow(), "connection to 127.0.0.1:2587 refused")])
        session.commit()
    page = web.get("/settings/relays").text
    assert 'data-state="down"' in page and "connection to 127.0.0.1:2587 refused" in page
    edit = web.get(f"/settings/relays/{relay_id}").text
    assert "hunter2-secret" not in edit and "Password saved." in edit
    r = web.post(f"/settings/relays/{relay_id}", {**form, "password": "", "weight": "5"}, follow_redirects=True)
    with Session(engine) as session:
        stored = session.get(Relay, relay_id)
        assert stored is not None and stored.weight == 5 and stored.password_sealed  # the password is kept
    r = web.post(f"/settings/relays/{relay_id}/delete", follow_redirects=True)
    assert 'Relay "main" removed.' in html.unescape(r.text)


def test_an_identity_page_shows_the_dkim_record_to_publish(web: Browser) -> None:
    bad = web.post("/settings/identities", {"name": "A", "from_domain": "not a domain", "headers": "Subject: x"})
    assert bad.status_code == 400 and 'id="from_domain-error"' in bad.text
    r = web.post("/settings/identities", {"name": "Brand A", "from_domain": "brand-a.test",
                                          "dkim_selector": "s2026", "headers": "X-Brand: A"}, follow_redirects=True)  # fmt: skip
    assert r.status_code == 200 and "publish its DKIM record" in r.text
    assert '<code id="dkim-name">s2026._domainkey.brand-a.test</code>' in r.text
    value = html.unescape(re.search(r'<code id="dkim-value"[^>]*>([^<]+)</code>', r.text).group(1))  # type: ignore[union-attr]
    assert value.startswith("v=DKIM1; k=rsa; p=MII") and "PRIVATE" not in r.text
    identity_path = r.url.path
    refused = web.post(identity_path, {"name": "Brand A", "from_domain": "brand-a.test", "headers": "From: boss@x"})
    assert refused.status_code == 400 and "set by bulkmail itself" in refused.text
    again = web.post(f"{identity_path}/new-key", follow_redirects=True).text
    assert html.unescape(re.search(r'<code id="dkim-value"[^>]*>([^<]+)</code>', again).group(1)) != value  # type: ignore[union-attr]


def test_a_campaign_picks_its_identity_on_the_compose_page(web: Browser, engine: Engine) -> None:
    web.post("/settings/identities", {"name": "Brand A", "from_domain": "brand-a.test"})
    page = web.get("/campaigns/new").text
    identity_id = re.search(r'<option value="(\d+)">Brand A</option>', page).group(1)  # type: ignore[union-attr]
    form = {"name": "Spring", "from_address": "news@other.test", "subject": "Hi", "text_template": "Hello",
            "identity_id": identity_id}  # fmt: skip
    wrong = web.post("/campaigns/new", form)
    assert wrong.status_code == 400 and "the identity&#39;s From domain" in wrong.text
    saved = web.post("/campaigns/new", {**form, "from_address": "news@brand-a.test"}, follow_redirects=False)
    assert saved.status_code == 303
    with Session(engine) as session:
        campaign = session.exec(select(Campaign)).one()
        assert campaign.identity_id == int(identity_id)


def test_a_campaign_gets_its_relays_and_checked_headers_on_the_compose_page(web: Browser, engine: Engine) -> None:
    web.post("/settings/relays", {"name": "eu", "host": "127.0.0.1", "port": "2587", "weight": "1", "enabled": "on"})
    page = web.get("/campaigns/new").text
    relay_id = re.search(r'name="relay_ids" value="(\d+)"', page).group(1)  # type: ignore[union-attr]
    form = {"name": "Spring", "from_address": "news@example.test", "subject": "Hi", "text_template": "Hello",
            "relay_ids": relay_id, "headers": "X-Campaign: spring\nBcc: everyone@example.test"}  # fmt: skip
    refused = web.post("/campaigns/new", form)
    assert refused.status_code == 400 and "set by bulkmail itself" in refused.text
    assert "X-Campaign: spring" in refused.text  # the form keeps what was typed
    assert web.post("/campaigns/new", {**form, "headers": "X-Campaign: spring"}).status_code == 200
    with Session(engine) as session:
        campaign = session.exec(select(Campaign)).one()
        assert campaign.relay_ids == [int(relay_id)] and campaign.headers == {"X-Campaign": "spring"}

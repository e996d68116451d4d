"""The guard on the pages: a guard-paused campaign shows why in the reader's language, its rates against
the thresholds, refuses a plain resume and takes "Resume past the guard"; the dashboard shows the
installation's rates; the campaign report counts mail sent after an unsubscribe (the 48-hour rule)."""

from datetime import timedelta

from sqlalchemy import Engine, insert
from sqlmodel import Session

from app.models import Campaign, Delivery, Suppression, utcnow
from app.sending import guards, identities
from app.sending.identity_schemas import IdentityCreate
from app.settings import Settings
from app.subscription.compliance import unsubscribe_compliance
from tests.sending.guard_support import bounce_rows, ledger_rows, sending_campaign
from tests.web.conftest import Browser


def _guard_paused(engine: Engine, session: Session) -> int:
    """A campaign the guard paused: 60 hard bounces (12 %) of its first 500 messages, 50 still queued."""
    campaign_id, now = sending_campaign(session).id, utcnow()
    assert campaign_id is not None
    ledger_rows(engine, campaign_id, 500, now - timedelta(minutes=5))
    ledger_rows(engine, campaign_id, 50, None, state="queued", start=500)
    bounce_rows(engine, campaign_id, 60, now)
    assert guards.check_campaigns(session, Settings(), now) == [campaign_id]
    session.commit()
    return campaign_id


def test_a_guard_paused_campaign_says_why_in_the_reader_s_language_and_resumes_only_past_the_guard(
    web: Browser, engine: Engine, session: Session
) -> None:
    campaign_id = _guard_paused(engine, session)
    page = web.get(f"/campaigns/{campaign_id}").text
    assert (
        "paused by the deliverability guard: hard bounces reached 12 % of 500 messages in the last 24 hours (60)"
        in page
    )
    assert 'data-metric="hard_bounces" data-level="pause"' in page and "Resume past the guard" in page
    german = web.get(f"/campaigns/{campaign_id}", headers={"Accept-Language": "de"}).text
    assert "vom Zustellbarkeitswächter angehalten: Harte Bounces erreichten 12 % von 500 Nachrichten" in german
    assert "Harte Bounces" in web.get("/", headers={"Accept-Language": "de"}).text

    page = web.post(f"/campaigns/{campaign_id}/resume").text  # back on the campaign page, with the notice
    assert "resume with the override to send anyway" in page
    session.expire_all()
    assert session.get(Campaign, campaign_id).state == "paused"  # type: ignore[union-attr]
    session.rollback()  # on SQLite a read transaction left open would keep the page's write waiting

    web.post(f"/campaigns/{campaign_id}/override")
    session.expire_all()
    resumed = session.get(Campaign, campaign_id)
    assert resumed is not None and (resumed.state, resumed.guard_override) == ("sending", True)
    session.rollback()
    assert "no longer pause the campaign" in web.get(f"/campaigns/{campaign_id}").text


def test_the_dashboard_shows_both_rates_for_24_hours_and_7_days(web: Browser, engine: Engine, session: Session) -> None:
    campaign = sending_campaign(session)
    now = utcnow()
    ledger_rows(engine, campaign.id, 1000, now - timedelta(hours=1))
    bounce_rows(engine, campaign.id, 2, now, kind="complaint")  # 0.2 %: a warning, under Gmail's line
    page = web.get("/").text
    assert 'id="installation-rates"' in page and "Gmail's line is 0.3 %" in page
    assert page.count('data-metric="complaints" data-level="warn"') == 2  # both windows
    assert page.count('data-metric="hard_bounces" data-level="ok"') == 2


def test_unsubscribe_compliance_counts_mail_after_an_unsubscribe_and_the_longest_delay(
    web: Browser, engine: Engine, session: Session
) -> None:
    first = sending_campaign(session)
    later = sending_campaign(session, "Later news")
    then = utcnow() - timedelta(days=5)
    ledger_rows(engine, first.id, 1, then - timedelta(hours=1))  # r0, sent before it unsubscribed
    with engine.begin() as conn:
        conn.execute(insert(Suppression), [
            {"email": f"r{i}@x.test", "email_key": f"r{i}@x.test", "reason": "unsubscribed", "source": "one-click",
             "note": "", "campaign_id": first.id, "created_at": then} for i in range(3)
        ])  # fmt: skip
        # r0: nothing after; r1: one message in flight 5 s after; r2: a later campaign 3 days after
        conn.execute(insert(Delivery), [
            {"campaign_id": first.id, "email": "r1@x.test", "email_key": "r1@x.test", "state": "sent",
             "attempts": 1, "sent_at": then + timedelta(seconds=5), "last_attempt_at": then + timedelta(seconds=5)},
            {"campaign_id": later.id, "email": "r2@x.test", "email_key": "r2@x.test", "state": "sent",
             "attempts": 1, "sent_at": then + timedelta(days=3), "last_attempt_at": then + timedelta(days=3)},
        ])  # fmt: skip
    first_id = first.id
    report = unsubscribe_compliance(session, first_id)  # type: ignore[arg-type]
    assert (report.unsubscribes, report.mailed_after, report.violations) == (3, 2, 1)
    assert report.longest == timedelta(days=3)
    session.rollback()
    page = web.get(f"/campaigns/{first_id}").text
    assert "3 unsubscribed through this campaign; 2 got mail afterwards, 1 of them more than 48 hours after" in page


def test_an_identitys_page_shows_the_rates_of_the_campaigns_sent_as_it(
    web: Browser, engine: Engine, session: Session, settings: Settings
) -> None:
    brand = identities.create(session, settings, IdentityCreate(name="brand", from_domain="example.test"))
    session.commit()
    now, ids = utcnow(), {}
    for name, identity_id, complaints in (("As brand", brand.id, 2), ("Also brand", brand.id, 1), ("Other", None, 9)):
        campaign = sending_campaign(session, name)
        campaign.identity_id = identity_id
        ids[name] = campaign.id
        session.add(campaign)
        session.commit()
        ledger_rows(engine, campaign.id, 600, now - timedelta(hours=1), start=1000 * (campaign.id or 0))
        bounce_rows(engine, campaign.id, complaints, now, kind="complaint")
    page = web.get(f"/settings/identities/{brand.id}").text
    assert 'id="identity-rates"' in page
    # the brand's two campaigns: 1,200 out, 3 complaints (0.25 %: a warning); the other campaign's 9 are not its
    assert page.count('data-metric="complaints" data-level="warn"') == 2
    assert '<td class="num">1200</td>' in page and 'title="3 of 1200"' in page
    # each campaign's page says which identity it is sent as
    assert "as the sending identity brand" in web.get(f"/campaigns/{ids['As brand']}").text
    assert "as the sending identity" not in web.get(f"/campaigns/{ids['Other']}").text

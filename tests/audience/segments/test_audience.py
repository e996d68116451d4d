"""A send to lists and segments less excluded lists and segments: counts, the frozen ledger, and
`why` naming the condition, on both databases."""

from datetime import timedelta

from sqlalchemy import select
from sqlmodel import Session, col

from app.audience.segments import store
from app.audience.segments.audience import Audience, compile_send, freeze
from app.audience.segments.explain import why_in
from app.models import Campaign, Delivery
from app.settings import Settings
from tests.audience.segments.conftest import NOW, World


def test_lists_and_segments_less_exclusions(session: Session, settings: Settings, world: World) -> None:
    germans = store.create(session, "Germans", "country = 'DE'")
    recent = store.create(session, "Recent", "received within 3 days")
    session.commit()
    audience = Audience([world.news], [germans.id or 0], [], [recent.id or 0])
    compiled = compile_send(session, audience, settings, NOW)
    assert compiled.counts == {
        "sources": {"News": 3},
        "segments": {"Germans": 2},
        "candidates": 5,
        "duplicates": 1,  # ann is on News and in Germans
        "excluded": {
            "unconfirmed": 1,  # o'brien's signup on News
            "unsubscribed": 0,
            "unsubscribed_list": 0,
            "bounced": 1,  # bob: a hard bounce
            "complained": 0,
            "manual": 0,
            "excluded_list": 0,
            "excluded_segment": 1,  # cy received 2 days ago
        },
        "excluded_by_list": {},
        "excluded_by_segment": {"Recent": 1},
        "unsubscribed_by_list": {"News": 0},
        "included": 1,
        "needs_smtputf8": 0,
    }
    assert [e for _, e, _ in compiled.contacts()] == ["ann@example.de"]
    campaign = Campaign(name="to Germans", from_address="a@b.test", subject="s")
    session.add(campaign)
    session.flush()
    counts = freeze(session, campaign.id or 0, audience, settings, NOW, NOW)
    session.commit()
    ledger = session.execute(select(col(Delivery.email)).where(col(Delivery.campaign_id) == campaign.id)).scalars()
    assert list(ledger) == ["ann@example.de"] and counts == compiled.counts


def test_segments_only_and_an_excluded_list(session: Session, settings: Settings, world: World) -> None:
    germans = store.create(session, "Germans", "country = 'DE' or domain = 'example.at'")
    session.commit()
    audience = Audience([], [germans.id or 0], [world.offers], [])
    counts = compile_send(session, audience, settings, NOW).counts
    # ann; bob bounced (decided before his exclusion); cy is on Offers (left it, still a member)
    assert counts["included"] == 1 and counts["excluded"]["excluded_list"] == 1 and counts["excluded"]["bounced"] == 1
    assert counts["excluded_by_list"] == {"Offers": 1} and counts["segments"] == {"Germans": 3}


def test_why_names_the_condition(session: Session, settings: Settings, world: World) -> None:
    germans = store.create(session, "Germans", "country = 'DE' and not bounced hard")
    hard = store.create(session, "Hard bounces", "bounced hard")
    recent = store.create(session, "Recent", "received within 3 days")
    session.commit()
    audience = Audience([], [germans.id or 0], [], [recent.id or 0])
    out = why_in(session, "bob@example.at", audience, settings, NOW)
    assert out.reason == "not_in_segments"
    assert out.detail == "not in segment 'Germans': country = 'DE' is false, it is 'AT'"
    dee = why_in(session, "dee@example.de", audience, settings, NOW)
    assert dee.detail == "not in segment 'Germans': country = 'DE' is false, it is empty"
    cy = why_in(session, "cy@mail.de", audience, settings, NOW)
    assert cy.reason == "excluded_segment" and not cy.included
    assert cy.detail.startswith("excluded: in the excluded segment 'Recent': received within 3 days is true, received ")
    assert cy.detail.endswith(f" on campaign {world.campaign}")
    ann = why_in(session, "ann@example.de", audience, settings, NOW)
    assert ann.included
    assert (
        ann.detail
        == "included: in segment 'Germans': country = 'DE' is true, it is 'DE'; bounced hard is false, no such event"
    )
    excluded = why_in(session, "bob@example.at", Audience([world.news], [], [], [hard.id or 0]), settings, NOW)
    assert excluded.reason == "bounced"  # the bounce policy speaks first, as in a send to lists
    bounced = why_in(session, "bob@example.at", Audience([], [hard.id or 0], [], []), settings, NOW)
    assert bounced.reason == "bounced" and "hard bounce" in bounced.detail
    unknown = why_in(session, "nobody@example.org", audience, settings, NOW)
    assert unknown.reason == "not_a_contact"


def test_why_names_the_last_open(session: Session, settings: Settings, world: World) -> None:
    readers = store.create(session, "Readers", "opened within 30 days")
    any_open = store.create(session, "Any open", "opened within 30 days including machines")
    clickers = store.create(session, "Clickers", "clicked")
    session.commit()
    bob = why_in(session, "bob@example.at", Audience([], [readers.id or 0], [], []), settings, NOW)
    day = (NOW - timedelta(days=60)).date().isoformat()
    assert bob.detail == (
        f"not in segment 'Readers': opened within 30 days is false, last human open {day} on campaign {world.campaign}"
    )
    cy = why_in(session, "cy@mail.de", Audience([], [readers.id or 0, any_open.id or 0], [], []), settings, NOW)
    yesterday = (NOW - timedelta(days=1)).date().isoformat()
    assert cy.included and cy.detail == (
        "included: in segment 'Any open': opened within 30 days including machines is true, "
        f"last open {yesterday} on campaign {world.campaign} (a machine's: apple)"
    )
    dee = why_in(session, "dee@example.de", Audience([], [clickers.id or 0], [], []), settings, NOW)
    assert dee.detail == "not in segment 'Clickers': clicked is false, no click by a person recorded"

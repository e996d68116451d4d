"""The preference page over HTTP: a GET changes nothing, every POST needs the page's form token for the
same link, a field the marketer does not allow cannot be set, a person can come back to a list they
left but not join a private list, and the preview link shows the page without acting."""

import re
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlmodel import Session

from app.audience import fields
from app.audience.compile import compile_audience
from app.models import ConsentEvent, Contact, ListMember, MailingList, Suppression, TransactionalMessage, utcnow
from app.secret_key import get_secret_key
from app.settings import Settings
from app.subscription import consent, forms, preferences, signup
from app.tokens import base36
from tests.audience.support import add_contacts

ANN = "ann@example.org"


def _setup(session: Session, settings: Settings, engine: Engine) -> tuple[str, int, int, int]:
    """Ann on News; a private list Offers she is not on. Returns her link's token, her id and the lists' ids."""
    news, offers = MailingList(name="News"), MailingList(name="Offers")
    session.add_all([news, offers])
    fields.define(session, "company", "Company", "text", subscriber_editable=True)
    fields.define(session, "score", "Lead score", "number")
    session.commit()
    add_contacts(session, news, ANN)
    contact_id = session.execute(select(Contact.id).where(Contact.email_key == ANN)).scalar_one()
    session.commit()
    token = preferences.token_for(get_secret_key(settings, engine), contact_id, utcnow())
    return token, contact_id, news.id, offers.id  # type: ignore[return-value]


def _form_token(page: str) -> str:
    found = re.search(r'name="form_token" value="([^"]+)"', page)
    assert found is not None
    return found.group(1)


def _count(engine: Engine, model: type) -> int:
    with Session(engine) as s:
        return s.execute(select(func.count()).select_from(model)).scalar_one()


def test_a_get_changes_nothing_and_a_post_needs_the_pages_form_token(
    anon_client: TestClient, session: Session, settings: Settings, engine: Engine
) -> None:
    token, _, news, _ = _setup(session, settings, engine)
    page = anon_client.get(f"/p/{token}")
    assert page.status_code == 200 and ANN in page.text and "News" in page.text
    for path in (f"/p/{token}", f"/p/{token}?cursor=garbage"):  # a link scanner, or a mangled link
        assert anon_client.get(path).status_code == 200
    assert _count(engine, Suppression) == 0

    secret = get_secret_key(settings, engine)
    other_link = preferences.form_token(secret, preferences.token_for(secret, 999, utcnow()), utcnow())
    stale = preferences.form_token(secret, token, utcnow() - timedelta(hours=5))
    for sent in ({}, {"form_token": "1.nonsense"}, {"form_token": other_link}, {"form_token": stale}):
        refused = anon_client.post(f"/p/{token}/lists/{news}/leave", data=sent)
        assert refused.status_code == 403 and "Nothing was changed" in refused.text
    assert _count(engine, Suppression) == 0

    done = anon_client.post(f"/p/{token}/lists/{news}/leave", data={"form_token": _form_token(page.text)})
    assert done.status_code == 200 and "You are unsubscribed from News." in done.text
    with Session(engine) as s:
        [row] = s.execute(select(Suppression)).scalars().all()
        assert (row.email_key, row.list_id, row.source) == (ANN, news, "preference page")


def test_only_the_fields_the_marketer_allows_are_changed(
    anon_client: TestClient, session: Session, settings: Settings, engine: Engine
) -> None:
    token, contact_id, _, _ = _setup(session, settings, engine)
    form = _form_token(anon_client.get(f"/p/{token}").text)
    sent = {"form_token": form, "first_name": "Ann", "last_name": "Lee", "company": "Acme", "score": "100"}
    assert anon_client.post(f"/p/{token}/details", data=sent).status_code == 200
    with Session(engine) as s:
        contact = s.get(Contact, contact_id)
        assert contact is not None
        assert (contact.first_name, contact.last_name, contact.attributes) == ("Ann", "Lee", {"company": "Acme"})
        [edit] = s.execute(select(ConsentEvent).where(ConsentEvent.action == "edit")).scalars().all()
        assert (edit.actor_kind, edit.detail) == ("preference_page", {"fields": ["company", "first_name", "last_name"]})


def test_come_back_to_a_list_left_but_not_join_a_private_one(
    anon_client: TestClient, session: Session, settings: Settings, engine: Engine
) -> None:
    token, contact_id, news, offers = _setup(session, settings, engine)
    form = _form_token(anon_client.get(f"/p/{token}").text)
    anon_client.post(f"/p/{token}/lists/{news}/leave", data={"form_token": form})
    back = anon_client.post(f"/p/{token}/lists/{news}/join", data={"form_token": form})
    assert back.status_code == 200 and "You are subscribed to News." in back.text
    assert _count(engine, Suppression) == 0
    private = anon_client.post(f"/p/{token}/lists/{offers}/join", data={"form_token": form})
    assert private.status_code == 422 and "That list cannot be joined here." in private.text
    not_mine = anon_client.post(f"/p/{token}/lists/{offers}/leave", data={"form_token": form})
    assert not_mine.status_code == 422 and "You are not on that list." in not_mine.text
    with Session(engine) as s:
        events = s.execute(select(ConsentEvent).where(ConsentEvent.contact_id == contact_id)).scalars().all()
        assert [(e.action, e.list_id) for e in events if e.actor_kind == "preference_page"] == [
            ("unsubscribe", news),
            ("subscribe", news),
        ]


def test_a_public_list_is_offered_and_joined_as_subscribed_with_consent(
    anon_client: TestClient, session: Session, settings: Settings, engine: Engine
) -> None:
    """A list whose signup form is public (double opt-in or not) is offered to a contact not on it; joining
    makes them a subscribed member at once (the signed link proves the mailbox) and the ledger records it
    with the list's consent text. The private list stays hidden."""
    token, contact_id, news, offers = _setup(session, settings, engine)
    events = MailingList(name="Events")
    session.add(events)
    session.commit()
    assert events.id is not None
    forms.save(session, events, forms.Changes(public=True, double_opt_in=True, consent_text="Yes, events please."))
    session.commit()
    page = anon_client.get(f"/p/{token}").text
    joinable = re.search(r'<ul id="joinable-lists">(.*?)</ul>', page, re.S)
    assert joinable is not None and "Events" in joinable.group(1) and "Offers" not in joinable.group(1)
    joined = anon_client.post(f"/p/{token}/lists/{events.id}/join", data={"form_token": _form_token(page)})
    assert joined.status_code == 200 and "You are subscribed to Events." in joined.text
    assert 'id="joinable-lists"' not in joined.text  # nothing left to join
    with Session(engine) as s:
        member = s.get(ListMember, (events.id, contact_id))
        assert member is not None and member.status == "subscribed"
        assert compile_audience(s, [events.id], settings, utcnow()).counts["included"] == 1
        [event] = s.execute(
            select(ConsentEvent).where(ConsentEvent.contact_id == contact_id, ConsentEvent.list_id == events.id)
        ).scalars()
        assert (event.action, event.actor_kind, event.consent_text_version) == ("subscribe", "preference_page", "v1")


def test_tampered_expired_and_erased_links_are_refused_with_a_page(
    anon_client: TestClient, session: Session, settings: Settings, engine: Engine
) -> None:
    token, contact_id, news, _ = _setup(session, settings, engine)
    secret = get_secret_key(settings, engine)
    day = preferences.day_of(utcnow())
    moved = token.replace(f".{base36(day)}-", f".{base36(day + 1)}-")  # the date changed by hand
    for bad in (token[:-2] + "aa", moved, "p1.1-aaaaaaaaaaaa", "nonsense"):
        page = anon_client.get(f"/p/{bad}")
        assert page.status_code == 404 and "This link is not valid" in page.text
    expired = preferences.token_for(secret, contact_id, utcnow() - timedelta(days=settings.preferences_valid_days + 1))
    page = anon_client.get(f"/p/{expired}")
    assert page.status_code == 410 and "This link has expired" in page.text
    form = preferences.form_token(secret, expired, utcnow())
    assert anon_client.post(f"/p/{expired}/everything", data={"form_token": form}).status_code == 410
    assert _count(engine, Suppression) == 0


def test_the_preview_link_shows_the_page_and_acts_on_nothing(anon_client: TestClient) -> None:
    page = anon_client.get("/p/preview")
    assert page.status_code == 200 and "Preview" in page.text and 'method="post"' not in page.text


def _signed_up_to_events(session: Session, engine: Engine, address: str = ANN) -> int:
    """A public double opt-in list Events with a welcome mail, which ADDRESS signed up to and has not confirmed."""
    events = MailingList(name="Events")
    session.add(events)
    session.commit()
    assert events.id is not None
    changes = forms.Changes(public=True, consent_text="Yes, events please.", welcome_subject="Hi", welcome_text="Hi")
    forms.save(session, events, changes)
    session.commit()
    actor = consent.Actor(consent.ActorKind.FORM, "form", "192.0.2.1", "Firefox")
    signup.subscribe(engine, events.id, signup.Submission(email=address), actor)
    return events.id


def _my_list(page: str, name: str) -> str:
    found = re.search(rf'<li data-list="{name}">(.*?)</li>', page, re.S)
    assert found is not None, page
    return found.group(1)


def _ledger(engine: Engine, contact_id: int, list_id: int) -> list[ConsentEvent]:
    with Session(engine) as s:
        query = select(ConsentEvent).where(ConsentEvent.contact_id == contact_id, ConsentEvent.list_id == list_id)
        return list(s.execute(query.order_by(ConsentEvent.id)).scalars())


def test_a_signup_waiting_for_its_confirmation_is_shown_so_and_confirmed_from_the_page(
    anon_client: TestClient, session: Session, settings: Settings, engine: Engine
) -> None:
    token, contact_id, news, _ = _setup(session, settings, engine)
    events = _signed_up_to_events(session, engine)
    page = anon_client.get(f"/p/{token}").text
    waiting = _my_list(page, "Events")
    assert "waiting for your confirmation" in waiting and "/confirm" in waiting and "/cancel" in waiting
    assert "Unsubscribe" not in waiting and "Unsubscribe" in _my_list(page, "News")
    with Session(engine) as s:
        assert compile_audience(s, [events], settings, utcnow()).counts["included"] == 0

    done = anon_client.post(f"/p/{token}/lists/{events}/confirm", data={"form_token": _form_token(page)})
    assert done.status_code == 200 and "Your subscription to Events is confirmed." in done.text
    assert "waiting for your confirmation" not in done.text and "Unsubscribe" in _my_list(done.text, "Events")
    with Session(engine) as s:
        member = s.get(ListMember, (events, contact_id))
        assert member is not None and member.status == "subscribed"
        assert compile_audience(s, [events], settings, utcnow()).counts["included"] == 1
        welcome = s.execute(select(TransactionalMessage).where(TransactionalMessage.kind == "welcome")).scalars()
        assert [m.contact_id for m in welcome] == [contact_id]
    subscribe, confirmed = _ledger(engine, contact_id, events)
    assert (confirmed.action, confirmed.actor_kind, confirmed.source) == (
        "confirm",
        "preference_page",
        "preference page",
    )
    assert (confirmed.ip, confirmed.user_agent, confirmed.consent_text_version) == ("testclient", "testclient", "v1")

    again = anon_client.post(f"/p/{token}/lists/{events}/confirm", data={"form_token": _form_token(page)})
    assert again.status_code == 422 and "That list is not waiting for your confirmation." in again.text
    not_waiting = anon_client.post(f"/p/{token}/lists/{news}/cancel", data={"form_token": _form_token(page)})
    assert not_waiting.status_code == 422 and _count(engine, ListMember) == 2


def test_a_signup_waiting_for_its_confirmation_is_cancelled_from_the_page_and_recorded(
    anon_client: TestClient, session: Session, settings: Settings, engine: Engine
) -> None:
    token, contact_id, _, _ = _setup(session, settings, engine)
    events = _signed_up_to_events(session, engine)
    form = _form_token(anon_client.get(f"/p/{token}").text)
    joined = anon_client.post(f"/p/{token}/lists/{events}/join", data={"form_token": form})
    assert joined.status_code == 422 and "confirm it, or cancel it" in joined.text  # no way around the ledger's confirm

    done = anon_client.post(f"/p/{token}/lists/{events}/cancel", data={"form_token": form})
    assert done.status_code == 200 and "Your signup to Events is cancelled." in done.text
    assert 'data-list="Events"' not in done.text and 'data-list="News"' in done.text
    with Session(engine) as s:
        assert s.get(ListMember, (events, contact_id)) is None
    cancelled = _ledger(engine, contact_id, events)[-1]
    assert (cancelled.action, cancelled.actor_kind, cancelled.ip, cancelled.user_agent) == (
        "cancel", "preference_page", "testclient", "testclient"
    )  # fmt: skip


def test_cancelling_the_only_thing_held_about_a_person_deletes_their_address(
    anon_client: TestClient, session: Session, settings: Settings, engine: Engine
) -> None:
    events = _signed_up_to_events(session, engine, "new@example.org")
    contact_id = session.execute(select(Contact.id).where(Contact.email_key == "new@example.org")).scalar_one()
    session.rollback()  # no transaction (on SQLite, no lock) while the page is used
    token = preferences.token_for(get_secret_key(settings, engine), contact_id, utcnow())
    form = _form_token(anon_client.get(f"/p/{token}").text)
    done = anon_client.post(f"/p/{token}/lists/{events}/cancel", data={"form_token": form})
    assert done.status_code == 200 and "Your address is deleted" in done.text
    assert _count(engine, Contact) == 0
    assert [e.action for e in _ledger(engine, contact_id, events)] == ["subscribe", "cancel"]  # the proof stays
    assert anon_client.get(f"/p/{token}").status_code == 404

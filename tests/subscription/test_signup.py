"""The hosted signup form and its confirmation link, through the real pages on both databases: double and
single opt-in, what the consent ledger keeps, the audience leaving unconfirmed signups out, the purge."""

import re
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import Engine, update
from sqlmodel import Session

from app.audience.compile import compile_audience
from app.audience.why import why
from app.models import ListMember, utcnow
from app.secret_key import get_secret_key
from app.settings import Settings
from app.subscription import forms
from app.subscription.mail import confirm_url
from app.subscription.signup import purge_unconfirmed
from tests.subscription.support import contact_id, job_ran, ledger, membership, messages, signup_list
from tests.users.support import make_user_of, signed_in

UA = "Mozilla/5.0 (signup test)"


def _post(client: TestClient, list_id: int, **data: str):  # type: ignore[no-untyped-def]
    """Post the form, then let the background job carry the signup out."""
    answer = client.post(f"/s/{list_id}", data=data, headers={"User-Agent": UA})
    job_ran(client.app.state.engine)  # type: ignore[attr-defined]
    return answer


def _confirm_path(settings: Settings, engine: Engine) -> str:
    [message] = [m for m in messages(engine) if m.kind == "confirm"][-1:]
    assert message.id is not None
    return confirm_url(settings, get_secret_key(settings, engine), message.id).removeprefix(settings.base_url)


def test_the_form_of_a_private_list_is_not_there(anon_client: TestClient, engine: Engine) -> None:
    list_id = signup_list(engine, public=False)
    assert anon_client.get(f"/s/{list_id}").status_code == 404
    r = _post(anon_client, list_id, email="ann@example.com")
    assert r.status_code == 404 and contact_id(engine, "ann@example.com") is None
    assert anon_client.get("/s/999999").status_code == 404


def test_double_opt_in_from_form_to_audience(anon_client: TestClient, engine: Engine, settings: Settings) -> None:
    list_id = signup_list(engine, consent_text="I agree to receive the newsletter.", fields=[])
    page = anon_client.get(f"/s/{list_id}")
    assert page.status_code == 200 and "I agree to receive the newsletter." in page.text
    assert 'name="consent_version" value="1"' in page.text

    r = _post(anon_client, list_id, email="Ann@Example.com", first_name="Ann", consent_version="1")
    assert r.status_code == 200 and "Check your mail" in r.text
    assert membership(engine, list_id, "ann@example.com") == "unconfirmed"
    contact = contact_id(engine, "ann@example.com")
    assert contact is not None
    [subscribed] = ledger(engine, contact)
    assert (subscribed.action, subscribed.actor_kind, subscribed.list_id) == ("subscribe", "form", list_id)
    assert subscribed.ip == "testclient" and subscribed.user_agent == UA
    assert subscribed.consent_text_version == "v1"
    [queued] = messages(engine)
    assert (queued.kind, queued.state, queued.email) == ("confirm", "queued", "Ann@example.com")

    with Session(engine) as s:  # not in any audience while unconfirmed, with the reason
        compiled = compile_audience(s, [list_id], settings, utcnow())
        assert compiled.counts["included"] == 0 and compiled.counts["excluded"]["unconfirmed"] == 1
        assert list(compiled.contacts()) == []
        verdict = why(s, "ann@example.com", [list_id], settings, utcnow())
        assert verdict.reason == "unconfirmed" and "confirmation" in verdict.detail

    path = _confirm_path(settings, engine)
    button = anon_client.get(path)  # what a link scanner fetches confirms nothing
    assert button.status_code == 200 and f'action="{path}"' in button.text
    assert membership(engine, list_id, "ann@example.com") == "unconfirmed"
    done = anon_client.post(path, headers={"User-Agent": UA})
    assert done.status_code == 200 and "Subscription confirmed" in done.text
    assert membership(engine, list_id, "ann@example.com") == "subscribed"
    confirmed = ledger(engine, contact)[-1]
    assert (confirmed.action, confirmed.actor_kind, confirmed.consent_text_version) == ("confirm", "form", "v1")
    assert confirmed.user_agent == UA
    assert anon_client.post(path).status_code == 200  # a second click says it is confirmed, and adds nothing
    assert len(ledger(engine, contact)) == 2

    with Session(engine) as s:
        compiled = compile_audience(s, [list_id], settings, utcnow())
        assert [email for _, email, _ in compiled.contacts()] == ["Ann@example.com"]
        assert compiled.counts["excluded"]["unconfirmed"] == 0


def test_the_ledger_names_the_consent_version_shown(anon_client: TestClient, engine: Engine) -> None:
    list_id = signup_list(engine, consent_text="First wording.")
    with Session(engine) as s:
        from app.models import MailingList

        ml = s.get(MailingList, list_id)
        assert ml is not None
        forms.save(s, ml, forms.Changes(consent_text="Second wording."))
        forms.save(s, ml, forms.Changes(consent_text="Second wording."))  # the same text: no new version
        s.commit()
        newest = forms.consent_text(s, list_id)
        assert newest is not None and newest.version == 2
        first = forms.consent_text(s, list_id, 1)
        assert first is not None and first.text == "First wording."  # kept as it was
    _post(anon_client, list_id, email="old@example.com", consent_version="1")  # a page loaded before the edit
    _post(anon_client, list_id, email="new@example.com", consent_version="2")
    _post(anon_client, list_id, email="none@example.com")
    for address, version in (("old@example.com", "v1"), ("new@example.com", "v2"), ("none@example.com", "v2")):
        contact = contact_id(engine, address)
        assert contact is not None
        assert ledger(engine, contact)[0].consent_text_version == version, address


def test_single_opt_in_subscribes_at_once_and_queues_the_welcome(anon_client: TestClient, engine: Engine) -> None:
    list_id = signup_list(
        engine, double_opt_in=False, welcome_subject="Welcome to {{ list_name }}", welcome_text="Hi {{ first_name }}"
    )
    assert _post(anon_client, list_id, email="bob@example.com", first_name="Bob").status_code == 200
    assert membership(engine, list_id, "bob@example.com") == "subscribed"
    assert [m.kind for m in messages(engine)] == ["welcome"]


def test_custom_fields_on_the_form_are_checked_and_stored(anon_client: TestClient, engine: Engine) -> None:
    with Session(engine) as s:
        from app.audience import fields

        fields.define(s, "employees", "Employees", "number")
        s.commit()
    list_id = signup_list(engine, fields=["employees"])
    assert 'name="employees"' in anon_client.get(f"/s/{list_id}").text
    r = _post(anon_client, list_id, email="carol@example.com", employees="many")
    assert r.status_code == 400 and 'id="employees-error"' in r.text and "expected a number" in r.text
    assert contact_id(engine, "carol@example.com") is None
    r = _post(anon_client, list_id, email="not an address")
    assert r.status_code == 400 and 'id="email-error"' in r.text
    assert _post(anon_client, list_id, email="carol@example.com", employees="12").status_code == 200
    with Session(engine) as s:
        from app.models import Contact

        contact = s.get(Contact, contact_id(engine, "carol@example.com"))
        assert contact is not None and contact.attributes == {"employees": 12}


def test_an_expired_or_forged_link_confirms_nothing(
    anon_client: TestClient, engine: Engine, settings: Settings
) -> None:
    list_id = signup_list(engine)
    _post(anon_client, list_id, email="dave@example.com")
    path = _confirm_path(settings, engine)
    forged = re.sub(r"-[a-z2-7]{12}$", "-aaaaaaaaaaaa", path)
    assert anon_client.get(forged).status_code == 404 and anon_client.post(forged).status_code == 404
    from app.models import TransactionalMessage

    with Session(engine) as s:
        s.execute(update(TransactionalMessage).values(created_at=utcnow() - timedelta(days=8)))
        s.commit()
    r = anon_client.post(path)
    assert r.status_code == 404 and "expired" in r.text
    assert membership(engine, list_id, "dave@example.com") == "unconfirmed"


def test_unconfirmed_signups_are_purged_and_the_ledger_keeps_the_attempt(
    anon_client: TestClient, engine: Engine, settings: Settings
) -> None:
    list_id = signup_list(engine)
    other = signup_list(engine, "Other", double_opt_in=False)
    _post(anon_client, list_id, email="gone@example.com")
    _post(anon_client, other, email="kept@example.com")
    _post(anon_client, list_id, email="kept@example.com")  # on the other list: the contact stays
    _post(anon_client, list_id, email="fresh@example.com")
    gone, kept = contact_id(engine, "gone@example.com"), contact_id(engine, "kept@example.com")
    assert gone is not None and kept is not None
    with Session(engine) as s:
        s.execute(
            update(ListMember)
            .where(ListMember.contact_id.in_([gone, kept]))  # type: ignore[attr-defined]
            .values(added_at=utcnow() - timedelta(days=settings.signup_unconfirmed_days, minutes=1))
        )
        s.commit()
    assert purge_unconfirmed(engine, settings) == 2
    assert contact_id(engine, "gone@example.com") is None
    assert [m.email for m in messages(engine) if m.contact_id == gone] == []
    assert membership(engine, list_id, "kept@example.com") is None
    assert membership(engine, other, "kept@example.com") == "subscribed"
    assert membership(engine, list_id, "fresh@example.com") == "unconfirmed"
    assert [(e.action, e.list_id) for e in ledger(engine, gone)] == [("subscribe", list_id), ("expire", list_id)]
    assert purge_unconfirmed(engine, settings) == 0


def test_the_list_page_saves_the_settings_and_shows_a_bad_template_at_its_field(
    anon_client: TestClient, engine: Engine
) -> None:
    make_user_of(engine, "marketer")
    web = signed_in(anon_client, "marketer@example.test")
    list_id = signup_list(engine, public=False)
    bad = {"public": "on", "double_opt_in": "on", "consent_text": "Yes please.", "confirm_subject": "Hi",
           "confirm_text": "Hello {{ first_name }\n{{ confirm_url }}"}  # fmt: skip
    r = web.post(f"/lists/{list_id}/signup", data=bad)
    assert r.status_code == 400 and 'id="confirm_text-error"' in r.text and "line 1" in r.text
    assert "Hello {{ first_name }" in r.text  # the text as typed, to correct
    assert web.client.get(f"/s/{list_id}").status_code == 404  # nothing was saved
    good = {**bad, "confirm_text": "Hello {{ first_name }}\n{{ confirm_url }}"}
    r = web.post(f"/lists/{list_id}/signup", data=good, follow_redirects=False)
    assert r.status_code == 303
    page = web.get(f"/lists/{list_id}").text
    assert "Signup settings saved." in page and "consent text version 1" in page
    assert f"http://testserver/s/{list_id}" in page and "&lt;form method=&#34;post&#34;" in page
    assert web.client.get(f"/s/{list_id}").status_code == 200

"""Pages in the user's language (chosen on the account page, else the browser's, else English), subscriber pages
in the contact's; dates and numbers written the language's way."""

import re

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlmodel import Session

from app.models import ConsentEvent, Contact, ListMember, MailingList, User
from app.secret_key import get_secret_key
from app.settings import Settings
from app.tokens import make_token
from tests.web.conftest import Browser

GERMAN_DATE = re.compile(r"\b\d{2}\.\d{2}\.\d{4} \d{2}:\d{2} UTC\b")
ISO_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC\b")


def _list_with_members(engine: Engine, name: str, members: int) -> int:
    with Session(engine) as s:
        ml = MailingList(name=name)
        contacts = [Contact(email=f"p{i}@x.test", email_key=f"p{i}@x.test") for i in range(members)]
        s.add(ml)
        s.add_all(contacts)
        s.flush()
        s.add_all(ListMember(list_id=ml.id, contact_id=c.id, source="api") for c in contacts)  # type: ignore[arg-type]
        s.commit()
        return ml.id  # type: ignore[return-value]


def _choose(web: Browser, language: str) -> None:
    assert web.post("/account/language", {"language": language}, follow_redirects=False).status_code == 303


def test_a_german_user_sees_the_dashboard_and_the_lists_in_german_with_german_dates_and_numbers(
    web: Browser, engine: Engine
) -> None:
    list_id = _list_with_members(engine, "Kunden", 1234)
    _choose(web, "de")
    account = web.get("/account").text
    assert "Sprache gespeichert." in account and '<option value="de" selected>' in account

    dashboard = web.get("/").text
    assert '<html lang="de">' in dashboard
    assert "<h1>Übersicht</h1>" in dashboard and "Neueste Kampagnen" in dashboard and ">Abmelden</button>" in dashboard

    lists = web.get("/lists").text
    assert "<h1>Listen</h1>" in lists and "Neue Liste" in lists and "Liste anlegen" in lists
    assert '<td class="num">1.234</td>' in lists  # German thousands separator
    assert GERMAN_DATE.search(lists) and not ISO_DATE.search(lists)

    page = web.get(f"/lists/{list_id}").text
    assert "1.234 Kontakte" in page and "Datei importieren" in page

    # a notice made by Python is German too, and so is a form's error
    created = web.post("/lists", {"name": "Presse", "description": ""})
    assert "Liste „Presse“ angelegt." in created.text
    refused = web.post("/lists", {"name": "", "description": ""})
    assert refused.status_code == 400 and "bitte ausfüllen" in refused.text


def test_english_stays_the_default_and_a_user_may_follow_the_browser(web: Browser, engine: Engine) -> None:
    _list_with_members(engine, "Customers", 1234)
    lists = web.get("/lists").text
    assert '<html lang="en">' in lists and "<h1>Lists</h1>" in lists and '<td class="num">1234</td>' in lists
    assert ISO_DATE.search(lists)

    # no language chosen: the browser's
    german_browser = {"Accept-Language": "de-DE,de;q=0.9,en;q=0.5"}
    assert "<h1>Listen</h1>" in web.get("/lists", headers=german_browser).text
    assert "<h1>Lists</h1>" in web.get("/lists", headers={"Accept-Language": "fr"}).text

    # chosen English beats a German browser; "the browser's" undoes the choice
    _choose(web, "en")
    assert "<h1>Lists</h1>" in web.get("/lists", headers=german_browser).text
    _choose(web, "")
    assert "<h1>Listen</h1>" in web.get("/lists", headers=german_browser).text
    with Session(engine) as s:
        assert s.execute(select(User.language)).scalar_one() is None


def test_a_language_that_is_not_offered_is_refused(web: Browser, engine: Engine) -> None:
    r = web.post("/account/language", {"language": "xx"})
    assert r.status_code == 400 and "Choose one of the languages offered." in r.text
    with Session(engine) as s:
        assert s.execute(select(User.language)).scalar_one() is None


def test_the_sign_in_page_follows_the_browser(anon_client: TestClient) -> None:
    page = anon_client.get("/login", headers={"Accept-Language": "de"}).text
    assert "Bei bulkmail anmelden" in page and "E-Mail-Adresse" in page
    assert "Sign in to bulkmail" in anon_client.get("/login").text


def _contact(engine: Engine, email: str, language: str | None = None, attributes: dict | None = None) -> int:  # type: ignore[type-arg]
    with Session(engine) as s:
        c = Contact(email=email, email_key=email, language=language, attributes=attributes or {})
        s.add(c)
        s.commit()
        return c.id  # type: ignore[return-value]


def test_the_unsubscribe_pages_of_a_german_contact_are_german(
    anon_client: TestClient, engine: Engine, settings: Settings
) -> None:
    key = get_secret_key(settings, engine)
    token = make_token(key, "c", _contact(engine, "kunde@x.test", "de"))
    page = anon_client.get(f"/u/{token}").text
    assert '<html lang="de">' in page and "Keine E-Mails mehr an <strong>kunde@x.test</strong> senden?" in page
    done = anon_client.post(f"/u/{token}", data={"confirm": "yes"}).text
    assert "Sie sind abgemeldet" in done and "erhält diese E-Mails nicht mehr" in done

    # the contact's language wins over the browser's; a `language` attribute (a CSV column) counts too
    english = make_token(key, "c", _contact(engine, "customer@x.test", "en"))
    assert "Stop sending e-mail to" in anon_client.get(f"/u/{english}", headers={"Accept-Language": "de"}).text
    from_csv = make_token(key, "c", _contact(engine, "leser@x.test", attributes={"Language": "de-AT"}))
    assert "Keine E-Mails mehr an" in anon_client.get(f"/u/{from_csv}").text
    unknown = make_token(key, "c", _contact(engine, "reader@x.test"))
    assert "Stop sending e-mail to" in anon_client.get(f"/u/{unknown}").text


def test_the_contact_page_sets_the_contacts_language_and_the_ledger_records_the_edit(
    web: Browser, engine: Engine
) -> None:
    contact_id = _contact(engine, "kunde@x.test")
    page = web.get(f"/contacts/{contact_id}").text
    assert 'name="language"' in page
    saved = web.post(f"/contacts/{contact_id}", {"first_name": "", "last_name": "", "language": "de"})
    assert "Saved: language." in saved.text
    with Session(engine) as s:
        assert s.get(Contact, contact_id).language == "de"  # type: ignore[union-attr]
        edits = s.execute(select(ConsentEvent.detail).where(ConsentEvent.contact_id == contact_id)).scalars().all()
    assert edits == [{"fields": ["language"]}]


def test_the_api_sets_a_contacts_language_and_stays_english_for_a_german_client(
    client: TestClient, engine: Engine
) -> None:
    contact_id = _contact(engine, "kunde@x.test")
    german = {"Accept-Language": "de"}
    r = client.patch(f"/api/v1/contacts/{contact_id}", json={"language": "de"}, headers=german)
    assert r.status_code == 200 and r.json()["language"] == "de"
    bad = client.patch(f"/api/v1/contacts/{contact_id}", json={"language": "klingon"}, headers=german)
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["loc"] == ["body", "language"] and "choose one of" in bad.json()["detail"]
    r = client.patch(f"/api/v1/contacts/{contact_id}", json={"language": ""})
    assert r.json()["language"] is None


def test_every_page_renders_in_german(web: Browser) -> None:
    _choose(web, "de")
    headings = {
        "/": "Übersicht", "/lists": "Listen", "/contacts": "Kontakte", "/fields": "Eigene Felder",
        "/audience": "Vorschau der Zielgruppe", "/campaigns": "Kampagnen", "/campaigns/new": "Neue Kampagne",
        "/bounces": "Bounces", "/suppressions": "Sperrungen", "/settings": "Einstellungen",
        "/settings/api-keys": "API-Schlüssel", "/users": "Benutzer", "/audit": "Audit-Protokoll", "/account": "Ihr Konto",
    }  # fmt: skip
    for url, heading in headings.items():
        page = web.get(url)
        assert page.status_code == 200 and f"<h1>{heading}</h1>" in page.text, url


def _final_status(web: Browser, page: str) -> str:
    found = re.search(r"/imports/(\d+)/status", page)
    assert found, page
    status = web.get(f"/imports/{found.group(1)}/status").text
    for _ in range(200):  # the upload's import runs in a thread of its own
        if "data-final" in status:
            break
        status = web.get(f"/imports/{found.group(1)}/status").text
    return status


def test_a_german_users_import_reasons_percentages_roles_and_consent_history_are_german(
    web: Browser, engine: Engine
) -> None:
    _choose(web, "de")
    created = web.post("/lists", {"name": "Kunden"}, follow_redirects=False)
    list_id = int(created.headers["location"].rsplit("/", 1)[1])
    # an upload's import runs in a background thread, which has no request: it keeps the language it began in
    web.get(f"/lists/{list_id}")
    web.client.post(f"/lists/{list_id}/upload", data={"csrf_token": web.token, "format": "auto"},
                    files={"file": ("kunden.csv", b"email\nann@example.com\nbob@@example.com\n", "text/csv")})  # fmt: skip
    started = web.post(f"/lists/{list_id}/import", {"format": "auto", "email": "1", "header": "yes"},
                       follow_redirects=True)  # fmt: skip
    report = _final_status(web, started.text)
    assert "„bob@@example.com“ ist keine gültige Adresse" in report and "100,0\xa0%" in report
    pasted = web.post(f"/lists/{list_id}/paste", {"addresses": "carl@example.com\nkein-at"}, follow_redirects=True)
    assert "„kein-at“ ist keine gültige Adresse: sie enthält kein @" in _final_status(web, pasted.text)

    composed = web.post("/campaigns/new", {"name": "Frühling", "from_address": "news@example.test", "subject": "Hallo",
                                           "html_template": "", "text_template": "Hallo", "list_ids": str(list_id)},
                        follow_redirects=False)  # fmt: skip
    campaign = web.post(f"{composed.headers['location']}/launch", follow_redirects=True).text
    assert 'id="percent">0,0\xa0%<' in campaign  # nothing sent yet, written the German way

    users = web.get("/users").text
    assert ">Betrachter: liest, ändert nichts</option>" in users and "> Marketing</label>" in users
    with Session(engine) as s:
        carl = s.execute(select(Contact.id).where(Contact.email_key == "carl@example.com")).scalar_one()
    history = web.get(f"/contacts/{carl}").text
    assert re.search(r"<td>Import</td><td>\d+</td><td>Import: import \d+</td>", history), history


def test_an_api_import_gives_its_reasons_in_english_whatever_the_clients_language(client: TestClient) -> None:
    german = {"Accept-Language": "de"}
    list_id = client.post("/api/v1/lists", json={"name": "Kunden"}, headers=german).json()["id"]
    job = client.post(f"/api/v1/lists/{list_id}/imports", files={"file": ("k.csv", b"email\nbob@@example.com\n")},
                      headers=german).json()  # fmt: skip
    for _ in range(200):
        if job["state"] in ("done", "failed"):
            break
        job = client.get(f"/api/v1/imports/{job['id']}", headers=german).json()
    rejects = client.get(f"/api/v1/imports/{job['id']}/rejects", headers=german).json()["items"]
    assert [r["reason"] for r in rejects] == ['"bob@@example.com" is not a valid address']

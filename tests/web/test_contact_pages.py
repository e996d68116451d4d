"""The contacts page (search, filters, pages) and a contact's page: edit with custom fields checked,
consent history, deliveries, why in or out of a campaign, export and erasure; on both databases."""

import html
import json

from sqlalchemy import Engine
from sqlmodel import Session

from app.audience import fields
from app.audience.cms import CmsUser, upsert_users
from app.models import Campaign, Delivery, MailingList, utcnow
from tests.web.conftest import Browser


def _seed(engine: Engine) -> dict[str, int]:
    with Session(engine) as s:
        news = MailingList(name="News")
        s.add(news)
        s.flush()
        fields.define(s, "employees", "Employees", "number")
        fields.define(s, "plan", "Plan", "choice", ["Free", "Pro"])
        people = [CmsUser(str(i), f"person{i:02d}@example.com", f"First{i:02d}", "Doe", {"company": f"Firm {i:02d}"})
                  for i in range(60)]  # fmt: skip
        people.append(CmsUser("ann", "ann@example.org", "Ann", "Lee", {"company": "Acme", "employees": "12"}))
        results = upsert_users(s, people, news.id, utcnow())
        campaign = Campaign(name="Spring", from_address="news@example.test", subject="Hi", text_template="x",
                            list_ids=[news.id])  # fmt: skip
        s.add(campaign)
        s.flush()
        ann = results[-1].contact_id
        s.add(Delivery(campaign_id=campaign.id, contact_id=ann, email="ann@example.org",  # type: ignore[arg-type]
                       email_key="ann@example.org", state="sent", attempts=1, sent_at=utcnow()))  # fmt: skip
        s.commit()
        return {"ann": ann, "news": news.id, "campaign": campaign.id}  # type: ignore[dict-item]


def test_search_filters_and_pages(web: Browser, engine: Engine) -> None:
    ids = _seed(engine)
    page = web.get("/contacts")
    assert page.status_code == 200
    assert page.text.index("ann@example.org") < page.text.index("person59@example.com")  # newest first
    assert "person10@example.com" not in page.text and 'rel="next"' in page.text  # 50 a page
    found = web.get("/contacts?q=acme").text
    assert "ann@example.org" in found and "person" not in found
    assert "person07@example.com" in web.get("/contacts?q=first07").text
    assert "No contacts match" in web.get(f"/contacts?q=zzzz&list_id={ids['news']}").text
    assert "ann@example.org" in web.get("/contacts?status=active&q=ann").text


def test_edit_checks_fields_and_records_the_user(web: Browser, engine: Engine) -> None:
    ids = _seed(engine)
    url = f"/contacts/{ids['ann']}"
    page = web.get(url)
    assert page.status_code == 200 and "Spring" in page.text and "cms" in page.text
    bad = web.post(url, {"first_name": "Ann", "last_name": "Lee", "field_employees": "lots", "field_plan": "Pro",
                         "other_attributes": '{"company": "Acme"}'})  # fmt: skip
    assert bad.status_code == 400 and 'expected a number, not "lots"' in html.unescape(bad.text)
    assert 'value="lots"' in bad.text  # what was typed stays
    ok = web.post(url, {"first_name": "Anne", "last_name": "Lee", "field_employees": "15", "field_plan": "Pro",
                        "other_attributes": '{"company": "Acme Corp"}'}, follow_redirects=False)  # fmt: skip
    assert ok.status_code == 303
    page = web.get(url).text
    assert "Saved: attributes" not in page and "Saved: company, employees, first_name, plan." in page
    assert "user: user marketer@example.test" in page
    export = json.loads(web.get(f"{url}/export.json").text)
    assert export["contact"]["attributes"] == {"company": "Acme Corp", "employees": 15, "plan": "Pro"}
    assert [e["action"] for e in export["consent"]] == ["cms", "edit"]
    verdict = web.get(f"{url}?campaign={ids['campaign']}").text
    assert "<strong>In</strong>" in verdict and 'list "News"' in html.unescape(verdict)


def test_erase_from_the_page(web: Browser, engine: Engine) -> None:
    ids = _seed(engine)
    url = f"/contacts/{ids['ann']}"
    assert "Erase ann@example.org?" in web.get(f"{url}/erase").text
    done = web.post(f"{url}/erase", follow_redirects=False)
    assert done.status_code == 303
    page = web.get(url).text
    assert f"Erased contact {ids['ann']}" in page and "ann@example.org" not in page and "erase" in page
    assert "ann@example.org" not in web.get("/contacts").text


def test_custom_fields_page(web: Browser) -> None:
    bad = web.post("/fields", {"name": "Company", "label": "Company", "type": "text"})
    assert bad.status_code == 400 and "lower-case letters" in bad.text
    ok = web.post("/fields", {"name": "company", "label": "Company", "type": "text"}, follow_redirects=False)
    assert ok.status_code == 303
    assert "{{ company }}" in web.get("/fields").text

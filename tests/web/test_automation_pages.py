"""The automation pages: a new automation from the form, its steps added, refused with the field named, moved
and removed, switched on, and the dry run for a contact, in German too."""

import re

from sqlmodel import Session

from app.models import Contact, MailingList
from tests.automations.support import template


def test_a_series_is_built_ordered_and_dry_run_on_the_pages(web, engine) -> None:  # type: ignore[no-untyped-def]
    with Session(engine) as s:
        members = MailingList(name="Members")
        s.add_all([members, Contact(email="ann@example.test", email_key="ann@example.test")])
        s.commit()
        list_id = members.id
    hello = template(engine, "Hello", "Hello there", "Hi")
    made = web.post("/automations/new", data={"name": "Welcome", "trigger": "list_joined", "list_id": str(list_id),
                                              "from_address": "news@example.test"}, follow_redirects=False)  # fmt: skip
    assert made.status_code == 303, made.text
    page = made.headers["location"]
    refused = web.post(f"{page}/steps", data={"o_kind": "send", "o_template_id": "999"})
    assert (
        refused.status_code == 400 and 'id="o_template_id-error"' in refused.text and "no such template" in refused.text
    )
    for data in ({"o_kind": "wait", "o_days": "2"}, {"o_kind": "send", "o_template_id": str(hello)}):
        assert web.post(f"{page}/steps", data=data, follow_redirects=False).status_code == 303
    shown = web.get(page).text
    first_step = re.findall(r"/steps/(\d+)/move", shown)[0]
    assert (
        web.post(f"{page}/steps/{first_step}/move", data={"direction": "down"}, follow_redirects=False).status_code
        == 303
    )
    steps = web.get(page).text
    assert steps.index(">send<") < steps.index(">wait<")  # the message first now
    assert web.post(f"{page}/state", data={"state": "active"}, follow_redirects=False).status_code == 303
    assert "<strong>active</strong>" in web.get(page).text
    plan = web.get(f"{page}/dry-run", params={"email": "ann@example.test"}).text
    assert "not subscribed to the list" in plan
    with Session(engine) as s:
        from app.models import ListMember

        s.add(ListMember(list_id=list_id, contact_id=1, source="api"))
        s.commit()
    plan = web.get(f"{page}/dry-run", params={"email": "ann@example.test"}).text
    assert "sends “Hello there”" in plan
    assert web.post("/account/language", {"language": "de"}, follow_redirects=False).status_code == 303
    assert "Schritt hinzufügen" in web.get(page).text
    removed = web.post(f"{page}/steps/{first_step}/delete", follow_redirects=False)
    assert removed.status_code == 303
    assert web.post(f"{page}/delete", follow_redirects=False).headers["location"] == "/automations"

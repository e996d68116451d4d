"""Templates address custom fields by name; a contact without a value renders it empty, so
`{% if company %}` saves and renders whether or not anyone has a company yet."""

from app.sending.render import CampaignTemplates, contact_context
from tests.sending.conftest import make_list

TEXT = "Hello {{ first_name }}{% if company %} from {{ company }}{% endif %}!"


def test_an_empty_optional_field_is_empty_not_an_error(client, session):
    lst = make_list(session, "l", [("ann@x.test", "Ann", {})])  # nobody has a company yet
    body = {"name": "Spring", "from_address": "news@example.test", "list_ids": [lst.id], "subject": "Hi",
            "text_template": TEXT}  # fmt: skip
    refused = client.post("/api/v1/campaigns", json=body)
    assert refused.status_code == 422 and "unknown variable 'company'" in refused.json()["errors"][0]["msg"]
    assert (
        client.post("/api/v1/fields", json={"name": "company", "label": "Company", "type": "text"}).status_code == 201
    )
    saved = client.post("/api/v1/campaigns", json=body)
    assert saved.status_code == 201, saved.text
    templates = CampaignTemplates.compile("Hi", "", TEXT)
    assert templates.render(contact_context("ann@x.test", "Ann", None, {}))[2] == "Hello Ann!"
    with_company = contact_context("bob@x.test", "Bob", None, {"company": "Acme"})
    assert templates.render(with_company)[2] == "Hello Bob from Acme!"

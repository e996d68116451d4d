"""Every web route, for every role: what each role may open and post. A new route fails the table test
until it is given its place in the table."""

import re

import pytest
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from app.models import Contact, MessageTemplate, Suppression
from tests.sending.conftest import make_campaign, make_list
from tests.users.support import make_user_of, signed_in

NOT_PAGES = ("/api/", "/u/", "/healthz", "/metrics", "/docs", "/redoc", "/openapi.json", "/static")

# who may use each route: "public" (no role check: sign-in, first run, invitation), "own" (every signed-in
# role: their own account), "read" (every role), "change" (admin and marketer), "admin" (admins only)
TABLE: dict[tuple[str, str], str] = {
    ("GET", "/login"): "public", ("POST", "/login"): "public",
    ("GET", "/login/code"): "public", ("POST", "/login/code"): "public",
    ("GET", "/login/enrol"): "public", ("POST", "/login/enrol"): "public",
    ("GET", "/login/oidc"): "public", ("GET", "/login/oidc/callback"): "public",
    ("POST", "/logout"): "public",
    ("GET", "/invite/{token}"): "public", ("POST", "/invite/{token}"): "public",
    ("GET", "/setup"): "public", ("POST", "/setup"): "public",
    ("GET", "/s/{list_id}"): "public", ("POST", "/s/{list_id}"): "public",
    ("GET", "/s/confirm/{token}"): "public", ("POST", "/s/confirm/{token}"): "public",
    ("GET", "/p/preview"): "public", ("GET", "/p/{token}"): "public",
    ("GET", "/archive/{list_id}"): "public", ("GET", "/archive/{list_id}/{campaign_id}"): "public",
    ("GET", "/view/{token}"): "public",
    ("POST", "/p/{token}/lists/{list_id}/{change}"): "public",
    ("POST", "/p/{token}/everything"): "public", ("POST", "/p/{token}/details"): "public",
    ("GET", "/account"): "own", ("GET", "/account/two-factor"): "own", ("POST", "/account/two-factor"): "own",
    ("POST", "/account/language"): "own", ("POST", "/account/time-zone"): "own",
    ("GET", "/"): "read",
    ("GET", "/lists"): "read", ("POST", "/lists"): "change",
    ("GET", "/lists/{list_id}"): "read",
    ("POST", "/lists/{list_id}/rename"): "change", ("POST", "/lists/{list_id}/signup"): "change",
    ("GET", "/lists/{list_id}/delete"): "change", ("POST", "/lists/{list_id}/delete"): "change",
    ("GET", "/lists/{list_id}/import"): "change", ("POST", "/lists/{list_id}/import"): "change",
    ("POST", "/lists/{list_id}/paste"): "change", ("POST", "/lists/{list_id}/upload"): "change",
    ("GET", "/imports/{import_id}"): "read", ("GET", "/imports/{import_id}/status"): "read",
    ("GET", "/imports/{import_id}/rejects.csv"): "read",
    ("GET", "/contacts"): "read", ("GET", "/contacts/{contact_id}"): "read",
    ("POST", "/contacts/{contact_id}"): "change", ("GET", "/contacts/{contact_id}/export.json"): "read",
    ("GET", "/contacts/{contact_id}/erase"): "change", ("POST", "/contacts/{contact_id}/erase"): "change",
    ("GET", "/fields"): "read", ("POST", "/fields"): "change", ("POST", "/fields/{field_id}/remove"): "change",
    ("POST", "/fields/{field_id}/subscriber-editable"): "change",
    ("GET", "/audience"): "read",
    ("GET", "/segments"): "read", ("GET", "/segments/new"): "change", ("POST", "/segments/new"): "change",
    ("POST", "/segments/preview"): "change", ("GET", "/segments/{segment_id}"): "read",
    ("POST", "/segments/{segment_id}"): "change", ("POST", "/segments/{segment_id}/remove"): "change",
    ("GET", "/campaigns"): "read",
    ("GET", "/campaigns/{campaign_id}/report"): "read", ("GET", "/campaigns/{campaign_id}/report.csv"): "read",
    ("GET", "/campaigns/new"): "change", ("POST", "/campaigns/new"): "change",
    ("GET", "/campaigns/{campaign_id}/edit"): "change", ("POST", "/campaigns/{campaign_id}/edit"): "change",
    ("POST", "/campaigns/preview"): "change",
    ("GET", "/campaigns/{campaign_id}"): "read", ("GET", "/campaigns/{campaign_id}/progress"): "read",
    ("GET", "/campaigns/{campaign_id}/preflight"): "read",
    ("POST", "/campaigns/{campaign_id}/test"): "change", ("POST", "/campaigns/{campaign_id}/{action}"): "change",
    ("GET", "/templates"): "read", ("GET", "/templates/new"): "change", ("POST", "/templates/new"): "change",
    ("GET", "/templates/{template_id}"): "read", ("POST", "/templates/{template_id}"): "change",
    ("GET", "/templates/{template_id}/delete"): "change", ("POST", "/templates/{template_id}/delete"): "change",
    ("GET", "/automations"): "read", ("GET", "/automations/new"): "change", ("POST", "/automations/new"): "change",
    ("GET", "/automations/{automation_id}"): "read", ("POST", "/automations/{automation_id}"): "change",
    ("POST", "/automations/{automation_id}/state"): "change", ("POST", "/automations/{automation_id}/steps"): "change",
    ("GET", "/automations/{automation_id}/steps/{step_id}"): "read",
    ("POST", "/automations/{automation_id}/steps/{step_id}"): "change",
    ("POST", "/automations/{automation_id}/steps/{step_id}/move"): "change",
    ("POST", "/automations/{automation_id}/steps/{step_id}/delete"): "change",
    ("GET", "/automations/{automation_id}/dry-run"): "read",
    ("GET", "/automations/{automation_id}/delete"): "change", ("POST", "/automations/{automation_id}/delete"): "change",
    ("GET", "/bounces"): "read", ("POST", "/bounces/sweep"): "change",
    ("GET", "/suppressions"): "read", ("POST", "/suppressions"): "change",
    ("GET", "/suppressions/{suppression_id}/remove"): "change",
    ("POST", "/suppressions/{suppression_id}/remove"): "change",
    ("GET", "/suppressions.csv"): "read",
    ("GET", "/settings"): "admin", ("POST", "/settings"): "admin",
    ("GET", "/settings/api-keys"): "admin", ("POST", "/settings/api-keys"): "admin",
    ("POST", "/settings/api-keys/{key_id}/revoke"): "admin",
    ("GET", "/settings/relays"): "admin", ("POST", "/settings/relays"): "admin",
    ("GET", "/settings/relays/{relay_id}"): "admin", ("POST", "/settings/relays/{relay_id}"): "admin",
    ("POST", "/settings/relays/{relay_id}/delete"): "admin",
    ("GET", "/settings/identities"): "admin", ("POST", "/settings/identities"): "admin",
    ("GET", "/settings/identities/{identity_id}"): "admin", ("POST", "/settings/identities/{identity_id}"): "admin",
    ("POST", "/settings/identities/{identity_id}/new-key"): "admin",
    ("POST", "/settings/identities/{identity_id}/delete"): "admin",
    ("GET", "/users"): "admin", ("POST", "/users/invite"): "admin",
    ("POST", "/users/{user_id}/role"): "admin", ("POST", "/users/{user_id}/deactivate"): "admin",
    ("POST", "/users/{user_id}/reactivate"): "admin", ("POST", "/users/{user_id}/reset-two-factor"): "admin",
    ("POST", "/users/two-factor-policy"): "admin",
    ("GET", "/audit"): "admin",
}  # fmt: skip
ALLOWED = {
    "admin": {"own", "read", "change", "admin"},
    "marketer": {"own", "read", "change"},
    "viewer": {"own", "read"},
}
NOWHERE = 999_999  # an id of nothing: a post that is let through changes nothing


def _web_routes(app) -> set[tuple[str, str]]:  # type: ignore[no-untyped-def]
    found = set()
    for ctx in iter_route_contexts(app.routes):
        path = ctx.path or ""
        methods = getattr(ctx.original_route, "methods", None) or set()
        if path.startswith(NOT_PAGES):
            continue
        found |= {(m, path) for m in methods if m != "HEAD"}
    return found


def _url(path: str, method: str, ids: dict[str, int]) -> str:
    def value(m: re.Match[str]) -> str:
        name = m.group(1)
        if name == "action":
            return "launch"
        if name == "token":
            return "not-a-token"
        return str(ids.get(name, NOWHERE) if method == "GET" else NOWHERE)

    return re.sub(r"\{(\w+)\}", value, path)


def test_every_web_route_is_in_the_table(anon_client: TestClient) -> None:
    assert _web_routes(anon_client.app) == set(TABLE)


def test_each_role_reaches_exactly_its_routes(anon_client: TestClient, engine: Engine) -> None:
    for role in ("admin", "marketer", "viewer"):
        make_user_of(engine, role)
    with Session(engine) as s:
        lst = make_list(s, "team", [("alice@example.test", "Alice", {})])
        campaign = make_campaign(s, [lst.id])
        sup = Suppression(email="gone@example.test", email_key="gone@example.test", reason="manual", source="test")
        s.add(sup)
        s.commit()
        ids = {"list_id": lst.id, "campaign_id": campaign.id, "suppression_id": sup.id}
    browsers = {role: signed_in(anon_client, f"{role}@example.test") for role in ALLOWED}
    wrong = []
    for (method, path), kind in sorted(TABLE.items()):
        if kind == "public":
            continue
        for role, browser in browsers.items():
            url = _url(path, method, ids)
            if method == "GET":
                r = browser.get(url, follow_redirects=False)
            else:
                r = browser.post(url, follow_redirects=False)
            allowed = kind in ALLOWED[role]
            if allowed and r.status_code == 403:
                wrong.append(f"{role} refused {method} {url}: {r.text[:200]}")
            if not allowed and not (r.status_code == 403 and f"your role ({role})" in r.text):
                wrong.append(f"{role} not refused {method} {url}: {r.status_code}")
            if allowed and r.status_code == 303 and r.headers["location"].startswith("/login"):
                wrong.append(f"{role} signed out by {method} {url}")
    assert wrong == []


@pytest.mark.parametrize("role", ["viewer", "marketer"])
def test_pages_show_only_the_controls_the_role_may_use(anon_client: TestClient, engine: Engine, role: str) -> None:
    make_user_of(engine, role)
    with Session(engine) as s:
        lst = make_list(s, "team", [("alice@example.test", "Alice", {})])
        campaign = make_campaign(s, [lst.id])
        s.add(Suppression(email="gone@example.test", email_key="gone@example.test", reason="manual", source="test"))
        s.commit()
        contact = s.exec(select(Contact).where(Contact.email_key == "alice@example.test")).one()
        template = MessageTemplate(name="Monthly", subject="News", text_template="Hello")
        s.add(template)
        s.commit()
        ids = {"list_id": lst.id, "campaign_id": campaign.id, "contact_id": contact.id, "template_id": template.id}
    browser = signed_in(anon_client, f"{role}@example.test")
    for (method, path), kind in TABLE.items():
        if method != "GET" or kind != "read" or "import_id" in path or path.endswith(".csv"):
            continue
        page = browser.get(_url(path, "GET", ids)).text
        # nobody below admin sees the way to the settings, users, keys or audit log
        assert not re.search(r'href="/(settings|users|audit)', page), path
        posts = re.findall(r'<form[^>]*method="post"[^>]*action="([^"]+)"', page)
        if role == "viewer":
            assert set(posts) <= {"/logout"}, (path, posts)  # a fragment has no sign-out form
            assert "/campaigns/new" not in page and "/remove" not in page and "/delete" not in page, path
    if role == "marketer":  # a marketer does see the controls of the pages they may change
        assert 'action="/lists"' in browser.get("/lists").text
        assert (
            f'action="/campaigns/{ids["campaign_id"]}/launch"' in browser.get(f"/campaigns/{ids['campaign_id']}").text
        )

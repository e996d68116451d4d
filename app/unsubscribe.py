"""The public one-click unsubscribe endpoint (RFC 8058) behind every List-Unsubscribe URL.

POST /u/TOKEN unsubscribes at once from the lists the message's campaign was sent to that the contact is
on (a contact on other lists stays on those): that is what mail providers send for one-click (body `List-Unsubscribe=One-Click`),
and what the confirmation page's button sends. A link of a test send (by contact, no campaign), or of a
campaign whose lists are all gone, unsubscribes from everything. GET only shows the page with that button
and a link to the preference page, because link scanners and previews fetch URLs without anyone clicking."""

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from app import i18n
from app.audience import suppressions
from app.audience.contacts import language_of
from app.audience.queries import unsubscribe_scope
from app.deps import EngineDep, SessionDep, SettingsDep
from app.i18n import gettext as _
from app.models import Contact, Delivery, utcnow
from app.secret_key import get_secret_key
from app.sending.compose import PREVIEW_TOKEN, preferences_url
from app.subscription import consent, preferences
from app.tokens import parse_token
from app.web.templating import templates as pages

router = APIRouter(tags=["unsubscribe"], include_in_schema=False)


@dataclass(frozen=True)
class Target:
    """The address an unsubscribe token stands for, where it came from, and what it leaves."""

    email: str
    email_key: str
    campaign_id: int | None
    delivery_id: int | None
    contact_id: int | None
    lists: dict[int, str] | None  # the lists to leave (id -> name); None: every list


def _target(token: str, session: SessionDep, settings: SettingsDep, engine: EngineDep) -> Target | None:
    """The token's address; the page speaks the contact's language (else the browser's, as the request began)."""
    parsed = parse_token(get_secret_key(settings, engine), token)
    if parsed is None:
        return None
    if parsed.kind == "u":
        d = session.get(Delivery, parsed.ident)
        if d is None:
            return None
        contact = session.get(Contact, d.contact_id) if d.contact_id is not None else None
        i18n.use(language_of(contact) if contact is not None else None)
        lists = unsubscribe_scope(session, d.campaign_id, d.email_key)
        return Target(d.email, d.email_key, d.campaign_id, d.id, d.contact_id, lists)
    if parsed.kind == "c":
        c = session.get(Contact, parsed.ident)
        if c is None:
            return None
        i18n.use(language_of(c))
        return Target(c.email, c.email_key, None, None, c.id, None)
    return None  # a VERP token is not an unsubscribe link


TargetDep = Annotated[Target | None, Depends(_target)]


def _invalid(request: Request) -> HTMLResponse:
    return pages.TemplateResponse(request, "unsubscribe_invalid.html", status_code=404)


def _preferences_link(target: Target, settings: SettingsDep, engine: EngineDep) -> str | None:
    if not target.contact_id:
        return None
    token = preferences.token_for(get_secret_key(settings, engine), target.contact_id, utcnow())
    return preferences_url(settings.base_url, token)


@router.get(f"/u/{PREVIEW_TOKEN}", response_class=HTMLResponse)
def preview_page(request: Request) -> HTMLResponse:
    """Where the compose preview's link leads: the recipients' page, with nothing to unsubscribe."""
    ctx = {"email": _("the recipient's address"), "lists": [_("the campaign's lists")], "preview": True}
    return pages.TemplateResponse(request, "unsubscribe.html", ctx)


@router.get("/u/{token}", response_class=HTMLResponse)
def confirm_page(
    token: str, request: Request, target: TargetDep, settings: SettingsDep, engine: EngineDep
) -> HTMLResponse:
    if target is None:
        return _invalid(request)
    ctx = {
        "email": target.email,
        "lists": None if target.lists is None else list(target.lists.values()),
        "action": f"/u/{token}",
        "preferences": _preferences_link(target, settings, engine),
    }
    return pages.TemplateResponse(request, "unsubscribe.html", ctx)


@router.post("/u/{token}", response_class=HTMLResponse)
async def unsubscribe(
    token: str, request: Request, target: TargetDep, session: SessionDep, settings: SettingsDep, engine: EngineDep
) -> HTMLResponse:
    if target is None:
        return _invalid(request)
    form = await request.form()
    one_click = form.get("List-Unsubscribe") == "One-Click"
    source = "one-click" if one_click else "unsubscribe page"
    actor = consent.Actor(
        consent.ActorKind.ONE_CLICK if one_click else consent.ActorKind.UNSUBSCRIBE_PAGE,
        source,
        ip=request.client.host if request.client else None,
        user_agent=request.headers.get("user-agent"),
    )
    list_ids = None if target.lists is None else list(target.lists)
    suppressions.unsubscribe(
        session, target.email, target.email_key, source, target.campaign_id, target.delivery_id, actor, list_ids
    )
    ctx = {
        "email": target.email,
        "lists": None if target.lists is None else list(target.lists.values()),
        "preferences": _preferences_link(target, settings, engine),
    }
    return pages.TemplateResponse(request, "unsubscribe_done.html", ctx)

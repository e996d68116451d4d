"""The public one-click unsubscribe endpoint (RFC 8058) behind every List-Unsubscribe URL.

POST /u/TOKEN suppresses at once: that is what mail providers send for one-click (body
`List-Unsubscribe=One-Click`), and what the confirmation page's button sends. GET only shows the
page with that button, because link scanners and previews fetch URLs without anyone clicking."""

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from app import i18n
from app.audience import suppressions
from app.audience.contacts import language_of
from app.deps import EngineDep, SessionDep, SettingsDep
from app.i18n import gettext as _
from app.models import Contact, Delivery
from app.secret_key import get_secret_key
from app.sending.compose import PREVIEW_TOKEN
from app.subscription import consent
from app.tokens import parse_token
from app.web.templating import templates as pages

router = APIRouter(tags=["unsubscribe"], include_in_schema=False)


@dataclass(frozen=True)
class Target:
    """The address an unsubscribe token stands for, and where it came from."""

    email: str
    email_key: str
    campaign_id: int | None
    delivery_id: int | None


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
        return Target(d.email, d.email_key, d.campaign_id, d.id)
    if parsed.kind == "c":
        c = session.get(Contact, parsed.ident)
        if c is None:
            return None
        i18n.use(language_of(c))
        return Target(c.email, c.email_key, None, None)
    return None  # a VERP token is not an unsubscribe link


TargetDep = Annotated[Target | None, Depends(_target)]


def _invalid(request: Request) -> HTMLResponse:
    return pages.TemplateResponse(request, "unsubscribe_invalid.html", status_code=404)


@router.get(f"/u/{PREVIEW_TOKEN}", response_class=HTMLResponse)
def preview_page(request: Request) -> HTMLResponse:
    """Where the compose preview's link leads: the recipients' page, with nothing to unsubscribe."""
    return pages.TemplateResponse(request, "unsubscribe.html", {"email": _("the recipient's address"), "preview": True})


@router.get("/u/{token}", response_class=HTMLResponse)
def confirm_page(token: str, request: Request, target: TargetDep) -> HTMLResponse:
    if target is None:
        return _invalid(request)
    return pages.TemplateResponse(request, "unsubscribe.html", {"email": target.email, "action": f"/u/{token}"})


@router.post("/u/{token}", response_class=HTMLResponse)
async def unsubscribe(token: str, request: Request, target: TargetDep, session: SessionDep) -> HTMLResponse:
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
    suppressions.unsubscribe(
        session, target.email, target.email_key, source, target.campaign_id, target.delivery_id, actor
    )
    return pages.TemplateResponse(request, "unsubscribe_done.html", {"email": target.email})

"""The public preference page /p/TOKEN behind every message's List-Help link and {{ preferences_url }}.

GET only shows (link scanners fetch URLs); every change is a POST carrying the page's form token
(app.subscription.preferences), so a change needs both the signed link and a page shown for it."""

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from sqlmodel import Session

from app import i18n
from app.audience.contacts import ContactErased, ContactInvalid, language_of
from app.deps import EngineDep, SessionDep, SettingsDep
from app.i18n import N_
from app.i18n import gettext as _
from app.models import Contact, utcnow
from app.secret_key import get_secret_key
from app.sending.compose import PREVIEW_TOKEN
from app.settings import Settings
from app.subscription import consent, preferences
from app.web.forms import FRESH, FormState
from app.web.templating import templates as pages

router = APIRouter(tags=["preferences"], include_in_schema=False)


def _secret(settings: SettingsDep, engine: EngineDep) -> bytes:
    return get_secret_key(settings, engine)


SecretDep = Annotated[bytes, Depends(_secret)]


def _actor(request: Request) -> consent.Actor:
    return consent.Actor(
        consent.ActorKind.PREFERENCE_PAGE,
        preferences.SOURCE,
        ip=request.client.host if request.client else None,
        user_agent=request.headers.get("user-agent"),
    )


def _message(request: Request, title: str, message: str, status_code: int) -> HTMLResponse:
    ctx = {"title": title, "message": message}
    return pages.TemplateResponse(request, "preferences_refused.html", ctx, status_code=status_code)


def _open(link: "Link") -> Contact:
    """The link's contact (raises LinkInvalid, LinkExpired); the page speaks the contact's language from here."""
    contact = preferences.open_link(
        link.session, link.secret, link.token, utcnow(), link.settings.preferences_valid_days
    )
    i18n.use(language_of(contact))
    return contact


def _link_refused(request: Request, exc: LookupError) -> HTMLResponse:
    if isinstance(exc, preferences.LinkExpired):
        return _message(
            request,
            _("This link has expired"),
            _(
                "Links to your preferences work for a while after the e-mail was sent. Use the link in a newer "
                "e-mail from us, or the unsubscribe link of any of them."
            ),  # fmt: skip
            410,
        )
    return _message(
        request,
        _("This link is not valid"),
        _(
            "It may have been cut short by your mail program. Copy the whole link from the e-mail, or use its "
            "unsubscribe link."
        ),  # fmt: skip
        404,
    )


@dataclass(frozen=True)
class Link:
    """One request on one contact's link: what every step of the page needs."""

    token: str
    request: Request
    session: Session
    settings: Settings
    secret: bytes


def _link(token: str, request: Request, session: SessionDep, settings: SettingsDep, secret: SecretDep) -> Link:
    return Link(token, request, session, settings, secret)


LinkDep = Annotated[Link, Depends(_link)]


def _page(
    link: Link, contact: Contact, notice: str = "", form: FormState = FRESH, cursor: str | None = None
) -> HTMLResponse:
    ctx = {
        "prefs": preferences.view(link.session, contact, cursor),
        "action": f"/p/{link.token}",
        "form_token": preferences.form_token(link.secret, link.token, utcnow()),
        "notice": notice,
        "errors": form.errors,
        "values": form.values,
    }
    return pages.TemplateResponse(link.request, "preferences.html", ctx, status_code=form.status_code)


@router.get(f"/p/{PREVIEW_TOKEN}", response_class=HTMLResponse)
def preview_page(request: Request) -> HTMLResponse:
    """Where the compose preview's link leads: what the page looks like, changing nothing."""
    return pages.TemplateResponse(request, "preferences.html", {"preview": True, "errors": {}})


@router.get("/p/{token}", response_class=HTMLResponse)
def show(link: LinkDep, cursor: str = "") -> HTMLResponse:
    try:
        contact = _open(link)
    except (preferences.LinkInvalid, preferences.LinkExpired) as exc:
        return _link_refused(link.request, exc)
    try:
        return _page(link, contact, cursor=cursor or None)
    except ValueError:  # a cursor that is not one of ours
        return _page(link, contact)


async def _opened(link: Link) -> Contact | HTMLResponse:
    """The link's contact when the link and the form token are good; else the page that says why not."""
    now = utcnow()
    try:
        contact = _open(link)
    except (preferences.LinkInvalid, preferences.LinkExpired) as exc:
        return _link_refused(link.request, exc)
    sent = (await link.request.form()).get("form_token")
    try:
        preferences.check_form_token(link.secret, link.token, sent if isinstance(sent, str) else None, now)
    except preferences.FormRefused:
        return _message(
            link.request,
            _("Nothing was changed"),
            _("The form was out of date or did not come from this page. Open the page again and repeat your choice."),
            403,
        )
    return contact


# what the page says after a list change, translated when it is shown
_LEFT = N_("You are unsubscribed from %(list)s.")
_JOINED = N_("You are subscribed to %(list)s.")
_CONFIRMED = N_("Your subscription to %(list)s is confirmed.")
_CANCELLED = N_("Your signup to %(list)s is cancelled.")


ListChange = Literal["leave", "join", "confirm", "cancel"]


@router.post("/p/{token}/lists/{list_id}/{change}", response_class=HTMLResponse)
async def change_list(list_id: int, change: ListChange, link: LinkDep) -> HTMLResponse:
    """Leave or join one list, or confirm or cancel a signup to it that waits for its confirmation; the page
    shown again says what was done."""
    contact = await _opened(link)
    if isinstance(contact, HTMLResponse):
        return contact
    assert contact.id is not None
    session, actor, now = link.session, _actor(link.request), utcnow()
    do: Callable[[], str]
    do, notice = {
        "leave": (partial(preferences.leave, session, contact, list_id, actor), _LEFT),
        "join": (partial(preferences.join, session, contact, list_id, actor, now), _JOINED),
        "confirm": (partial(preferences.confirm, session, contact, list_id, actor, now), _CONFIRMED),
        "cancel": (partial(preferences.cancel, session, contact, list_id, actor, now), _CANCELLED),
    }[change]
    try:
        name = do()
    except preferences.NotAllowed as exc:
        link.session.rollback()
        return _page(link, contact, form=FormState({"lists": str(exc)}, {}, 422))
    link.session.commit()
    if not preferences.still_held(link.session, contact.id):  # a cancelled signup was all there was of them
        return _message(
            link.request, _(notice, list=name), _("Your address is deleted: you will get no e-mail from us."), 200
        )
    return _page(link, contact, _(notice, list=name))


@router.post("/p/{token}/everything", response_class=HTMLResponse)
async def leave_everything(link: LinkDep) -> HTMLResponse:
    contact = await _opened(link)
    if isinstance(contact, HTMLResponse):
        return contact
    preferences.leave_all(link.session, contact, _actor(link.request))
    notice = _("You are unsubscribed from everything: %(email)s gets no more e-mail from us.", email=contact.email)
    return _page(link, contact, notice)


@router.post("/p/{token}/details", response_class=HTMLResponse)
async def save_details(link: LinkDep) -> HTMLResponse:
    contact = await _opened(link)
    if isinstance(contact, HTMLResponse):
        return contact
    form = {k: v for k, v in (await link.request.form()).items() if isinstance(v, str)}
    try:
        changed = preferences.save_fields(link.session, contact, form, _actor(link.request), utcnow())
    except ContactInvalid as exc:
        link.session.rollback()
        errors = {f.removeprefix("attributes."): m for f, m in exc.problems}
        return _page(link, contact, form=FormState(errors, form, 422))
    except ContactErased:
        link.session.rollback()
        return _link_refused(link.request, preferences.LinkInvalid())
    link.session.commit()
    notice = _("Your details are saved.") if changed else _("Nothing needed changing.")
    return _page(link, contact, notice)

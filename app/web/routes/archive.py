"""The public archive of a list (`/archive/LIST_ID`, `/archive/LIST_ID/CAMPAIGN_ID`) and "view in browser"
(`/view/TOKEN`): no sign-in. What they show and how a message is rendered for them: app.sending.archive."""

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse

from app.deps import EngineDep, SessionDep, SettingsDep
from app.i18n import gettext as _
from app.secret_key import get_secret_key
from app.sending import archive
from app.sending.compose import VIEW_PREVIEW
from app.web.paging import PagedList
from app.web.templating import render

public = APIRouter(include_in_schema=False)

ARCHIVE = PagedList(20, key=lambda c: (c.launched_at, c.id))
# a message's own HTML is shown in a sandbox: no script runs, and its links leave without our URL as Referer
PRIVATE = {
    "Cache-Control": "private, no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex",
}
SANDBOXED = {**PRIVATE, "Content-Security-Policy": "sandbox allow-popups allow-popups-to-escape-sandbox"}


def _missing() -> HTTPException:
    return HTTPException(404, _("There is no such archive or message."))


@public.get("/archive/{list_id}", response_class=HTMLResponse)
def archive_page(list_id: int, request: Request, session: SessionDep) -> HTMLResponse:
    ml = archive.archive_list(session, list_id)
    if ml is None:
        raise _missing()
    rows, pager = ARCHIVE.fetch(session, request, lambda c: archive.archived_newest_first(session, list_id, c))
    return render(request, "archive.html", {"list": ml, "campaigns": rows, "pager": pager})


@public.get("/archive/{list_id}/{campaign_id}", response_class=HTMLResponse)
def archived_message(
    list_id: int, campaign_id: int, request: Request, session: SessionDep, settings: SettingsDep
) -> HTMLResponse:
    ml = archive.archive_list(session, list_id)
    message = archive.archived_message(session, settings, list_id, campaign_id) if ml is not None else None
    if message is None:
        raise _missing()
    return render(request, "archive_message.html", {"list": ml, "m": message})


@public.get("/view/{token}", response_class=HTMLResponse)
def view_in_browser(
    token: str, request: Request, session: SessionDep, settings: SettingsDep, engine: EngineDep
) -> HTMLResponse:
    if token == VIEW_PREVIEW:
        response = render(request, "view_preview.html")
        response.headers.update(PRIVATE)
        return response
    message = archive.delivered_message(session, settings, get_secret_key(settings, engine), token)
    if message is None:
        raise _missing()
    return HTMLResponse(message.html, headers=SANDBOXED)

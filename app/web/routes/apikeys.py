"""API keys on the settings pages: create (the key is shown once), list with last use, revoke."""

from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel

from app import apikeys
from app.deps import SessionDep
from app.i18n import gettext as _
from app.models.types import NAME_LENGTH
from app.web.forms import FRESH, FormState, refused
from app.web.paging import PagedList
from app.web.templating import render_form

router = APIRouter()

KEYS = PagedList(50, anchor="#api-keys")


class KeyForm(BaseModel):
    name: str = ""
    scope: str = "read"


def _page(
    request: Request,
    session: SessionDep,
    new_key: str = "",
    form: FormState = FRESH,
) -> HTMLResponse:
    # newest first; rows carry the prefix, never the key
    keys, pager = KEYS.fetch(session, request, apikeys.keys_newest_first)
    return render_form(request, "apikeys.html", {"keys": keys, "pager": pager, "new_key": new_key}, form)


@router.get("/settings/api-keys", response_class=HTMLResponse)
def api_keys_page(request: Request, session: SessionDep) -> HTMLResponse:
    return _page(request, session)


@router.post("/settings/api-keys", response_class=HTMLResponse)
def create_key(request: Request, session: SessionDep, form: Annotated[KeyForm, Form()]) -> HTMLResponse:
    name, scope = form.name, form.scope
    values = form.model_dump()
    errors = {}
    if not name.strip():
        errors["name"] = _("Say who will use the key, e.g. CMS.")
    if scope not in ("read", "write"):
        errors["scope"] = _("Choose read or write.")
    if errors:
        return _page(request, session, form=refused(errors, values))
    row, plaintext = apikeys.create_api_key(session, name.strip()[:NAME_LENGTH], scope)  # type: ignore[arg-type]  # scope is one of the Scope literals: checked above
    session.commit()
    request.state.audit_object = ("api_key", row.id)
    # shown in this response only; the database keeps its hash
    return _page(request, session, new_key=plaintext)


@router.post("/settings/api-keys/{key_id}/revoke")
def revoke_key(key_id: int, request: Request, session: SessionDep) -> Response:
    row = apikeys.revoke_api_key(session, key_id)
    session.commit()
    request.session["notice"] = (
        _("Key %(prefix)s… revoked.", prefix=row.prefix) if row else _("There is no key %(id)s.", id=key_id)
    )
    return RedirectResponse("/settings/api-keys", status_code=303)

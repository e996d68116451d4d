"""The first-run page: creates the first administrator, only while no user exists, and only for a
browser on the machine bulkmail runs on or one that brings the one-time token `bulkmail serve` printed.
Once a user exists the page is gone."""

import hmac
from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse

from app.deps import EngineDep, from_this_machine
from app.i18n import gettext as _
from app.users import MIN_PASSWORD, FirstUserExists, UserInvalid, create_first_admin, users_exist
from app.web.csrf import require_csrf
from app.web.forms import Credentials
from app.web.session import sign_in
from app.web.templating import render

router = APIRouter(include_in_schema=False)


class SetupForm(Credentials):
    password_again: str = ""
    token: str = ""


def _token_ok(request: Request, token: str) -> bool:
    expected: str | None = getattr(request.app.state, "setup_token", None)
    if not (expected and token):
        return False
    return hmac.compare_digest(expected.encode(), token.encode())


def _check_access(request: Request, token: str) -> None:
    if not (from_this_machine(request) or _token_ok(request, token)):
        raise HTTPException(
            403,
            _(
                "the first-run page opens only on the machine bulkmail runs on, or with the link "
                "`bulkmail serve` printed when it started (or run `bulkmail user create` there)"
            ),
        )


def _gone() -> HTTPException:
    return HTTPException(404, _("not found: a user exists, sign in at /login"))


@router.get("/setup", response_class=HTMLResponse)
async def setup_page(request: Request, engine: EngineDep, token: str = "") -> Response:
    if await run_in_threadpool(users_exist, engine):
        return RedirectResponse("/login", status_code=303)
    _check_access(request, token)
    return render(request, "setup.html", {"email": "", "token": token, "min_password": MIN_PASSWORD})


@router.post("/setup", response_class=HTMLResponse, dependencies=[Depends(require_csrf)])
async def create_admin(request: Request, engine: EngineDep, form: Annotated[SetupForm, Form()]) -> Response:
    email, password, token = form.email, form.password, form.token
    if await run_in_threadpool(users_exist, engine):
        raise _gone()
    _check_access(request, token)
    errors: dict[str, str] = {}
    if password != form.password_again:
        errors["password_again"] = _("the two passwords differ")
    else:
        try:
            user = await run_in_threadpool(create_first_admin, engine, email, password)
        except UserInvalid as exc:
            errors[exc.field] = exc.detail
        except FirstUserExists:
            raise _gone() from None
    if errors:
        ctx = {"email": email, "token": token, "min_password": MIN_PASSWORD, "errors": errors}
        return render(request, "setup.html", ctx, status_code=400)
    request.app.state.setup_token = None  # one time
    assert user.id is not None  # stored by create_first_admin
    await sign_in(
        request, engine, user.id, user.email, notice=_("Welcome: %(email)s is the administrator.", email=user.email)
    )
    return RedirectResponse("/", status_code=303)

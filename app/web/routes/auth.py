"""Sign-in and sign-out."""

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse

from app.deps import EngineDep
from app.users import authenticate, users_exist
from app.web.csrf import require_csrf
from app.web.forms import Credentials
from app.web.session import sign_in
from app.web.templating import render

router = APIRouter(include_in_schema=False)


class SignInForm(Credentials):
    next: str = "/"


def _safe_next(target: str | None) -> str:
    # only a path on this site: an absolute or protocol-relative URL would make an open redirect
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, engine: EngineDep, next: str | None = None) -> HTMLResponse:
    # with no user yet, the page says how to make the first one
    ctx = {"next": _safe_next(next), "email": "", "first_run": not users_exist(engine)}
    return render(request, "login.html", ctx)


@router.post("/login", response_class=HTMLResponse, dependencies=[Depends(require_csrf)])
async def login(request: Request, engine: EngineDep, form: Annotated[SignInForm, Form()]) -> Response:
    email, password = form.email, form.password
    errors = {}
    if not email.strip():
        errors["email"] = "enter your e-mail address"
    if not password:
        errors["password"] = "enter your password"
    if not errors:
        result = await run_in_threadpool(authenticate, engine, email, password)
        if result.user_id is not None:
            sign_in(request, result.user_id, email.strip())
            return RedirectResponse(_safe_next(form.next), status_code=303)
        errors["password"] = result.error or "sign-in failed"
    first_run = not await run_in_threadpool(users_exist, engine)
    ctx = {"next": _safe_next(form.next), "email": email, "errors": errors, "first_run": first_run}
    return render(request, "login.html", ctx, status_code=400)


@router.post("/logout", dependencies=[Depends(require_csrf)])
def logout(request: Request) -> RedirectResponse:
    request.session.clear()
    return RedirectResponse("/login", status_code=303)

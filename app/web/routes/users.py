"""The users page (administrators): invite by e-mail, change a role, deactivate and reactivate, reset a
lost second factor, require a second factor per role; and the audit log."""

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel

from app import i18n
from app.deps import EngineDep, Id, SessionDep, SettingsDep
from app.i18n import N_
from app.i18n import gettext as _
from app.i18n.formats import when
from app.i18n.labels import label
from app.models import User
from app.sending.notice import NoticeNotSent
from app.users import UserInvalid
from app.users import directory as users
from app.users.audit import entries_newest_first
from app.users.invites import invite
from app.users.roles import role_choices, set_totp_policy, totp_policy
from app.web.deps import UserDep
from app.web.forms import FRESH, FormState, refused
from app.web.paging import PagedList
from app.web.responses import done
from app.web.templating import render, render_form

router = APIRouter()

USERS = PagedList(50, anchor="#users")
AUDIT = PagedList(50, anchor="#audit")


class InvitationForm(BaseModel):
    email: str = ""
    role: str = "viewer"
    language: str = ""  # the invitee's; "": the installation's


def _page(request: Request, session: SessionDep, form: FormState = FRESH) -> HTMLResponse:
    rows, pager = USERS.fetch(session, request, users.users_by_id)
    context = {
        "users": rows,
        "pager": pager,
        "invites": users.open_invites(session),
        "policy": totp_policy(session),
        "roles": role_choices(),
        "languages": [("", _("the installation's")), *i18n.LANGUAGES.items()],
    }
    return render_form(request, "users.html", context, form)


@router.get("/users", response_class=HTMLResponse)
def users_page(request: Request, session: SessionDep) -> HTMLResponse:
    return _page(request, session)


@router.post("/users/invite", response_class=HTMLResponse)
async def invite_user(
    request: Request,
    user: UserDep,
    session: SessionDep,
    engine: EngineDep,
    settings: SettingsDep,
    form: Annotated[InvitationForm, Form()],
) -> Response:
    values = form.model_dump()
    try:
        row = await run_in_threadpool(invite, engine, settings, form.email, form.role, user, form.language)
    except UserInvalid as exc:
        return _page(request, session, refused({exc.field: exc.detail}, values))
    except NoticeNotSent as exc:
        return _page(
            request, session, FormState({"email": _("no invitation sent: %(problem)s", problem=exc)}, values, 502)
        )
    request.state.audit_object = ("user_invite", row.id)
    request.state.audit_detail = {"email": row.email, "role": row.role}
    return _done(
        request,
        _(
            "Invitation sent to %(email)s; the link works once, until %(when)s.",
            email=row.email,
            when=when(row.expires_at),
        ),
    )


def _done(request: Request, notice: str) -> RedirectResponse:
    return done(request, "/users", notice)


@router.post("/users/{user_id}/role")
def change_role(request: Request, session: SessionDep, user_id: Id, role: Annotated[str, Form()] = "") -> Response:
    try:
        changed = users.change_role(session, user_id, role)
    except (users.UserChangeRefused, LookupError) as exc:
        return _refused(request, exc)
    session.commit()
    request.state.audit_detail = {"role": role}
    return _done(request, _("%(email)s is now %(role)s.", email=changed.email, role=label(role)))


def _refused(request: Request, exc: Exception) -> RedirectResponse:
    request.state.audit_skip = True  # nothing changed
    return _done(request, _("Not changed: %(problem)s", problem=exc.args[0] if exc.args else exc))


def _change(request: Request, session: SessionDep, change: Callable[[], User], done: str) -> Response:
    """Run one change to a user; the page says what happened to whom, or why it was refused."""
    try:
        changed = change()
    except (users.UserChangeRefused, LookupError) as exc:
        return _refused(request, exc)
    session.commit()
    return _done(request, _(done, email=changed.email))


@router.post("/users/{user_id}/deactivate")
def deactivate(request: Request, user: UserDep, session: SessionDep, user_id: Id) -> Response:
    assert user.id is not None
    by = user.id
    return _change(
        request,
        session,
        lambda: users.deactivate(session, user_id, by),
        N_("%(email)s is deactivated and signed out everywhere."),
    )


@router.post("/users/{user_id}/reactivate")
def reactivate(request: Request, session: SessionDep, user_id: Id) -> Response:
    return _change(request, session, lambda: users.reactivate(session, user_id), N_("%(email)s can sign in again."))


@router.post("/users/{user_id}/reset-two-factor")
def reset_two_factor(request: Request, session: SessionDep, user_id: Id) -> Response:
    return _change(
        request,
        session,
        lambda: users.reset_second_factor(session, user_id),
        N_("%(email)s has no second factor now and is signed out everywhere."),
    )


@router.post("/users/two-factor-policy")
async def two_factor_policy(request: Request, session: SessionDep) -> Response:
    form = await request.form()
    required = {v for v in form.getlist("require_totp") if isinstance(v, str)}
    try:
        policy = set_totp_policy(session, required)
    except ValueError as exc:
        return _refused(request, exc)
    session.commit()
    roles = [r for r, on in policy.items() if on]
    request.state.audit_detail = {"require_totp": roles}
    who = ", ".join(label(r) for r in roles) if roles else _("no role")
    return _done(
        request,
        _(
            "A second factor is now required of: %(roles)s. Users without one set it up at their next sign-in.",
            roles=who,
        ),
    )


@router.get("/audit", response_class=HTMLResponse)
def audit_page(request: Request, session: SessionDep) -> HTMLResponse:
    rows, pager = AUDIT.fetch(session, request, entries_newest_first)
    return render(request, "audit.html", {"entries": rows, "pager": pager})

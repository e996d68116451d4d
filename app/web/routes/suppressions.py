"""Suppressions: search, add with a reason, remove after a confirmation, export as CSV."""

from typing import Annotated, get_args

from fastapi import APIRouter, Form, HTTPException, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse, StreamingResponse
from pydantic import BaseModel, ValidationError

from app.addresses import InvalidAddress
from app.audience import queries, suppressions
from app.audience.export import csv_lines
from app.audience.schemas import SuppressionCreate, SuppressionReason, SuppressionReasonFilter
from app.deps import SessionDep
from app.i18n import gettext as _
from app.i18n.formats import when
from app.models import Suppression, utcnow
from app.web.deps import EDITING
from app.web.forms import FormState, refused
from app.web.paging import PagedList
from app.web.responses import removed
from app.web.templating import confirm, render_form

router = APIRouter()

REASONS = get_args(SuppressionReason)  # the ones a person may add
FILTERS = get_args(SuppressionReasonFilter)
SUPPRESSIONS = PagedList(100, anchor="#suppressions")


class SuppressionForm(BaseModel):
    email: str = ""
    reason: str = "manual"
    note: str = ""


NEW = FormState(values=SuppressionForm().model_dump())  # the form as first shown


def _page(
    request: Request,
    session: SessionDep,
    q: str = "",
    reason: str = "",
    form: FormState = NEW,
) -> HTMLResponse:
    stmt = queries.suppressions_filtered(reason if reason in FILTERS else None, search=q.strip())
    rows, pager = SUPPRESSIONS.fetch(session, request, lambda c: queries.suppressions_newest_first(stmt, c))
    ctx = {"rows": rows, "pager": pager, "q": q, "reason": reason, "reasons": REASONS, "filters": FILTERS}
    return render_form(request, "suppressions.html", ctx, form)


@router.get("/suppressions", response_class=HTMLResponse)
def suppressions_page(request: Request, session: SessionDep, q: str = "", reason: str = "") -> HTMLResponse:
    return _page(request, session, q, reason)


@router.post("/suppressions", response_class=HTMLResponse)
def add_suppression(request: Request, session: SessionDep, form: Annotated[SuppressionForm, Form()]) -> Response:
    values = form.model_dump()
    try:
        body = SuppressionCreate(email=form.email.strip(), reason=form.reason, note=form.note.strip(), source="web")
        s = suppressions.add(
            session, body.email, body.reason, f"web: {request.session.get('email')}", body.note, utcnow()
        )
        session.commit()
    except ValidationError as exc:
        errors = {str(e["loc"][0]): e["msg"] for e in exc.errors()}
        return _page(request, session, form=refused(errors, values))
    except InvalidAddress as exc:
        return _page(request, session, form=refused({"email": str(exc)}, values))
    except suppressions.AlreadySuppressed as exc:
        session.rollback()
        return _page(request, session, form=refused({"email": str(exc)}, values))
    request.session["notice"] = _("%(email)s is suppressed (%(reason)s).", email=s.email, reason=s.reason)
    return RedirectResponse("/suppressions", status_code=303)


def _get(session: SessionDep, suppression_id: int) -> Suppression:
    s = session.get(Suppression, suppression_id)
    if s is None:
        raise HTTPException(404, _("no suppression with id %(id)s", id=suppression_id))
    return s


@router.get("/suppressions/{suppression_id}/remove", response_class=HTMLResponse, dependencies=EDITING)
def remove_confirm(suppression_id: int, request: Request, session: SessionDep) -> HTMLResponse:
    s = _get(session, suppression_id)
    text = _(
        "It was suppressed as %(reason)s on %(when)s (%(source)s). Removing the suppression makes the address "
        "mailable in the next campaign.",
        reason=s.reason,
        when=when(s.created_at),
        source=s.source or _("no source"),
    )
    action = f"/suppressions/{suppression_id}/remove"
    return confirm(
        request, _("Mail %(email)s again?", email=s.email), text, _("Remove the suppression"), action, "/suppressions"
    )


@router.post("/suppressions/{suppression_id}/remove")
def remove(suppression_id: int, request: Request, session: SessionDep) -> RedirectResponse:
    s = _get(session, suppression_id)
    notice = _("%(email)s is no longer suppressed.", email=s.email)
    return removed(request, session, suppressions.remove, s, "/suppressions", notice)


@router.get("/suppressions.csv")
def export(session: SessionDep, reason: str = "") -> StreamingResponse:
    rows = [
        (x.email, x.reason, x.source, x.note, x.campaign_id, x.created_at.isoformat(timespec="seconds"))
        for x in queries.all_suppressions(session, reason if reason in FILTERS else None)
    ]
    session.rollback()
    return StreamingResponse(
        csv_lines(["email", "reason", "source", "note", "campaign_id", "created_at"], rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="suppressions.csv"'},
    )

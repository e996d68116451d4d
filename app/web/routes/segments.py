"""Segments: the list of saved segments, and the editor (builder and expression, with a preview of
how many contacts match now)."""

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel
from sqlmodel import Session

from app.audience.segments import store
from app.audience.segments.builder import editor
from app.deps import SessionDep
from app.i18n import gettext as _
from app.models import Segment, utcnow
from app.web.deps import EDITING
from app.web.forms import FormState, refused
from app.web.paging import PagedList
from app.web.responses import removed
from app.web.templating import render, render_form

router = APIRouter()
SEGMENTS = PagedList(50, key=lambda s: (s.name, s.id))


class SegmentForm(BaseModel):
    name: str = ""
    description: str = ""
    expression: str = ""
    segment_id: int | None = None  # the preview's: which segment's page it answers


def _get(session: Session, segment_id: int) -> Segment:
    """The segment, or the page's 404 naming the id."""
    found = store.get(session, segment_id)
    if found is not None:
        return found
    raise HTTPException(404, _("no segment with id %(id)s", id=segment_id))


@router.get("/segments", response_class=HTMLResponse)
def segments_page(request: Request, session: SessionDep) -> HTMLResponse:
    rows, pager = SEGMENTS.fetch(session, request, store.by_name)
    return render(request, "segments.html", {"segments": rows, "pager": pager})


def _editor_page(
    request: Request, session: Session, form: FormState, segment: Segment | None, preview: store.Preview | None = None
) -> HTMLResponse:
    ctx = {"segment": segment, "builder": editor(session, form.values.get("expression", "")), "preview": preview}
    return render_form(request, "segment.html", ctx, form)


@router.get("/segments/new", response_class=HTMLResponse, dependencies=EDITING)
def new_segment(request: Request, session: SessionDep) -> HTMLResponse:
    return _editor_page(request, session, FormState(values={"expression": "country = 'DE'"}), None)


def _save(request: Request, session: Session, form: SegmentForm, segment: Segment | None) -> Response:
    """A new segment (SEGMENT None) or changes to one, on to its page; the form again with the problem."""
    try:
        if segment is None:
            segment = store.create(session, form.name, form.expression, form.description)
        else:
            store.change(session, segment, name=form.name, expression=form.expression, description=form.description)
    except store.SegmentProblem as exc:
        session.rollback()
        return _editor_page(request, session, refused({exc.field: exc.message}, form.model_dump()), segment)
    session.commit()
    request.session["notice"] = _("Segment %(name)s saved.", name=segment.name)
    return RedirectResponse(f"/segments/{segment.id}", status_code=303)


@router.post("/segments/new", response_class=HTMLResponse)
def create_segment(request: Request, session: SessionDep, form: Annotated[SegmentForm, Form()]) -> Response:
    return _save(request, session, form, None)


@router.post("/segments/preview", response_class=HTMLResponse)
def preview_segment(request: Request, session: SessionDep, form: Annotated[SegmentForm, Form()]) -> HTMLResponse:
    """The editor again, with how many contacts the expression matches now (nothing is saved)."""
    segment = _get(session, form.segment_id) if form.segment_id else None
    try:
        result = store.preview(session, form.expression, utcnow())
    except store.SegmentProblem as exc:
        return _editor_page(request, session, refused({exc.field: exc.message}, form.model_dump()), segment)
    values = {**form.model_dump(), "expression": result.expression}
    return _editor_page(request, session, FormState(values=values), segment, result)


@router.get("/segments/{segment_id}", response_class=HTMLResponse)
def segment_page(segment_id: int, request: Request, session: SessionDep) -> HTMLResponse:
    segment = _get(session, segment_id)
    values = {"name": segment.name, "description": segment.description, "expression": segment.expression}
    return _editor_page(request, session, FormState(values=values), segment)


@router.post("/segments/{segment_id}", response_class=HTMLResponse)
def save_segment(
    segment_id: int, request: Request, session: SessionDep, form: Annotated[SegmentForm, Form()]
) -> Response:
    return _save(request, session, form, _get(session, segment_id))


@router.post("/segments/{segment_id}/remove")
def remove_segment(segment_id: int, request: Request, session: SessionDep) -> RedirectResponse:
    segment = _get(session, segment_id)
    notice = _("Segment %(name)s removed; campaigns already launched keep their recipients.", name=segment.name)
    return removed(request, session, store.remove, segment, "/segments", notice)

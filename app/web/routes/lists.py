"""Lists: create, rename, delete; the signup settings (hosted form, opt-in, consent text, mails); the import wizard (upload, preview and mapping, progress, report
with downloadable rejects) and a box for typed or pasted addresses."""

import re
import uuid
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, StreamingResponse
from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import IntegrityError
from starlette.datastructures import FormData

from app import i18n
from app.audience import fields as custom_fields
from app.audience import lists, queries
from app.audience.export import csv_lines
from app.audience.importer import ImportFile, claim, create_job, run_import, run_in_background
from app.audience.schemas import ListCreate
from app.audience.sources.detect import FORMATS
from app.audience.upload import BadUpload, UploadTooLarge, receive_upload
from app.config_store import LiveSettings
from app.deps import EngineDep, SessionDep, SettingsDep
from app.i18n import gettext as _
from app.i18n import ngettext
from app.models import ImportJob, MailingList, utcnow
from app.settings import Settings
from app.subscription import forms as signup_forms
from app.web.csrf import FIELD as CSRF_FIELD
from app.web.csrf import check_token
from app.web.deps import EDITING
from app.web.forms import FRESH, FormErrors, FormState, add_validation_errors, refused
from app.web.import_preview import Preview, mapping_from_form, preview
from app.web.paging import PagedList, Pager
from app.web.responses import removed
from app.web.templating import confirm, render, render_form

router = APIRouter()
# the upload streams its body itself, so its CSRF token is checked after the body, not by the router
uploads = APIRouter()

_UPLOAD_NAME = re.compile(r"^[0-9a-f]{32}-upload$")
REJECTS = PagedList(50, param="rejects", anchor="#rejects")
LISTS = PagedList(100, key=lambda m: (m.name, m.id))
IMPORTS = PagedList(20, param="imports", anchor="#imports-h")
# the preview's form fields that carry the mapping on to the Import button
_MAPPING_FIELDS = ("format", "email", "also_email", "first_name", "last_name", "header", "delimiter", "field_for")


class ListForm(BaseModel):
    name: str = ""
    description: str = ""
    archive: bool = False  # an unticked box is not posted


def _get_list(session: SessionDep, list_id: int) -> MailingList:
    ml = session.get(MailingList, list_id)
    if ml is None:
        raise HTTPException(404, _("no list with id %(id)s", id=list_id))
    return ml


def _lists_page(request: Request, session: SessionDep, form: FormState = FRESH) -> HTMLResponse:
    rows, pager = LISTS.fetch(session, request, queries.lists_alphabetically)
    counts = queries.member_counts(session, [m.id for m in rows])  # of the lists on this page only
    ctx = {"lists": [(m, counts.get(m.id, 0)) for m in rows], "pager": pager}
    return render_form(request, "lists.html", ctx, form)


@router.get("/lists", response_class=HTMLResponse)
def lists_page(request: Request, session: SessionDep) -> HTMLResponse:
    return _lists_page(request, session)


def _save_list(
    session: SessionDep, ml: MailingList, name: str, description: str, archive: bool | None = None
) -> dict[str, str]:
    """Validate with the API's schema and store; the field errors, if any."""
    try:
        body = ListCreate(name=name, description=description)
    except ValidationError as exc:
        errors = FormErrors()
        add_validation_errors(errors, exc)  # in words for people, in the page's language
        return errors
    try:
        lists.save(session, ml, body.name, body.description, archive)
        session.commit()
    except (lists.ListNameTaken, IntegrityError):  # IntegrityError: the name was taken meanwhile
        session.rollback()
        return {"name": _('a list named "%(name)s" already exists', name=body.name)}
    return {}


@router.post("/lists", response_class=HTMLResponse)
def create_list(request: Request, session: SessionDep, form: Annotated[ListForm, Form()]) -> Response:
    ml = MailingList(name=form.name.strip(), description=form.description.strip())
    errors = _save_list(session, ml, form.name.strip(), form.description.strip())
    if errors:
        return _lists_page(request, session, refused(errors, form.model_dump()))
    request.session["notice"] = _('List "%(name)s" created.', name=ml.name)
    return RedirectResponse(f"/lists/{ml.id}", status_code=303)


def _list_page(request: Request, session: SessionDep, ml: MailingList, form: FormState = FRESH) -> HTMLResponse:
    list_id = ml.id
    assert list_id is not None  # a stored list
    members = queries.member_count(session, list_id)
    imports, pager = IMPORTS.fetch(
        session, request, lambda c: queries.imports_newest_first(list_id, c), f"/lists/{list_id}"
    )
    live: LiveSettings = request.app.state.live_settings
    ctx = {
        "list": ml,
        "members": members,
        "imports": imports,
        "pager": pager,
        "formats": FORMATS,
        **_signup_context(session, live.get(), ml),
    }
    return render_form(request, "list.html", ctx, form)


@router.get("/lists/{list_id}", response_class=HTMLResponse)
def list_page(list_id: int, request: Request, session: SessionDep) -> HTMLResponse:
    return _list_page(request, session, _get_list(session, list_id))


@router.post("/lists/{list_id}/rename", response_class=HTMLResponse)
def rename_list(list_id: int, request: Request, session: SessionDep, form: Annotated[ListForm, Form()]) -> Response:
    ml = _get_list(session, list_id)
    errors = _save_list(session, ml, form.name.strip(), form.description.strip(), form.archive)
    if errors:
        session.refresh(ml)
        return _list_page(request, session, ml, refused(errors, form.model_dump()))
    request.session["notice"] = _("List saved.")
    return RedirectResponse(f"/lists/{list_id}", status_code=303)


@router.get("/lists/{list_id}/delete", response_class=HTMLResponse, dependencies=EDITING)
def delete_confirm(list_id: int, request: Request, session: SessionDep) -> HTMLResponse:
    ml = _get_list(session, list_id)
    members = queries.member_count(session, list_id)
    text = ngettext(
        "Its %(num)s membership and import history are deleted; the contacts themselves stay.",
        "Its %(num)s memberships and import history are deleted; the contacts themselves stay.",
        members,
    )
    page = f"/lists/{list_id}"
    title = _('Delete the list "%(name)s"?', name=ml.name)
    return confirm(request, title, text, _("Delete the list"), f"{page}/delete", page)


@router.post("/lists/{list_id}/delete")
def delete_list(list_id: int, request: Request, session: SessionDep) -> RedirectResponse:
    ml = _get_list(session, list_id)
    return removed(request, session, lists.delete_list, ml, "/lists", _('List "%(name)s" deleted.', name=ml.name))


# --- signup settings -------------------------------------------------------------------------------


def _signup_context(session: SessionDep, settings: Settings, ml: MailingList) -> dict[str, Any]:
    """What the list page shows of the list's signup: its settings, the consent text, the form's address and
    the snippet that embeds it elsewhere."""
    assert ml.id is not None  # a stored list
    seen = signup_forms.overview(session, settings.base_url, ml.id)
    return {
        "signup": seen.form,
        "consent": seen.consent,
        "custom_fields": seen.fields,
        "unconfirmed": seen.unconfirmed,
        "form_url": seen.form_url,
        "snippet": seen.snippet,
        "unconfirmed_days": settings.signup_unconfirmed_days,
    }


def _flag(form: FormData, name: str) -> bool:
    return form.get(name) in ("on", "yes", "true", "1")


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


@router.post("/lists/{list_id}/signup", response_class=HTMLResponse)
async def save_signup(list_id: int, request: Request, session: SessionDep) -> Response:
    """The signup settings: public form, opt-in, fields, consent text (a change is a new version), mails."""
    ml = await run_in_threadpool(_get_list, session, list_id)
    form = await request.form()
    changes = signup_forms.Changes(
        public=_flag(form, "public"),
        double_opt_in=_flag(form, "double_opt_in"),
        fields=[v for v in form.getlist("fields") if isinstance(v, str)],
        consent_text=_text(form, "consent_text"),
        confirm_subject=_text(form, "confirm_subject"),
        confirm_text=_text(form, "confirm_text"),
        welcome_subject=_text(form, "welcome_subject"),
        welcome_text=_text(form, "welcome_text"),
    )

    def store() -> signup_forms.SignupInvalid | None:
        try:
            signup_forms.save(session, ml, changes)
        except signup_forms.SignupInvalid as exc:
            session.rollback()
            return exc
        session.commit()
        return None

    problem = await run_in_threadpool(store)
    if problem is not None:
        values = {k: v for k, v in form.multi_items() if isinstance(v, str)}
        values["fields"] = ",".join(v for v in form.getlist("fields") if isinstance(v, str))
        state = refused({problem.field: problem.message}, values)
        await run_in_threadpool(session.refresh, ml)
        return await run_in_threadpool(_list_page, request, session, ml, state)
    request.session["notice"] = _("Signup settings saved.")
    return RedirectResponse(f"/lists/{list_id}#signup-h", status_code=303)


# --- the import wizard ----------------------------------------------------------------------------


@uploads.post("/lists/{list_id}/upload", response_class=HTMLResponse)
async def upload(list_id: int, request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    """Step 1: the file is streamed to the upload directory (never held in memory)."""
    ml = await run_in_threadpool(_get_list, session, list_id)
    await run_in_threadpool(session.rollback)  # SQLite: no transaction open while a slow upload streams in
    try:
        received = await receive_upload(
            request.headers.get("content-type", ""),
            request.stream(),
            Path(settings.upload_dir),
            settings.max_upload_bytes,
        )
    except (UploadTooLarge, BadUpload) as exc:
        message = str(exc).removeprefix("file: ")
        return await run_in_threadpool(_list_page, request, session, ml, refused({"file": message}))
    try:
        check_token(request, received.fields.get(CSRF_FIELD))
    except HTTPException:
        received.path.unlink(missing_ok=True)  # type: ignore[union-attr]  # receive_upload returns only with a file
        raise
    previous = _pending(request, settings, request.session.get("upload", {}).get("list_id", -1))
    if previous is not None:  # a wizard left half-way: its upload is not needed any more
        previous[0].unlink(missing_ok=True)
    request.session["upload"] = {"list_id": list_id, "name": received.path.name, "filename": received.filename}  # type: ignore[union-attr]  # receive_upload returns only with a file
    fmt = received.fields.get("format", "auto")
    return RedirectResponse(f"/lists/{list_id}/import?format={fmt if fmt in FORMATS else 'auto'}", status_code=303)


def _pending(request: Request, settings: SettingsDep, list_id: int) -> tuple[Path, str] | None:
    pending = request.session.get("upload")
    if not pending or pending.get("list_id") != list_id or not _UPLOAD_NAME.match(pending.get("name", "")):
        return None
    path = Path(settings.upload_dir) / pending["name"]
    return (path, pending["filename"]) if path.exists() else None


@router.get("/lists/{list_id}/import", response_class=HTMLResponse, dependencies=EDITING)
def import_preview(
    list_id: int, request: Request, session: SessionDep, settings: SettingsDep, format: str = "auto"
) -> Response:
    """Step 2: the detected format, the mapping and the first rows, to confirm or change."""
    ml = _get_list(session, list_id)
    pending = _pending(request, settings, list_id)
    if pending is None:
        request.session["notice"] = _("Choose a file to import first.")
        return RedirectResponse(f"/lists/{list_id}", status_code=303)
    path, filename = pending
    fmt = format if format in FORMATS else "auto"
    mapping = mapping_from_form(request.query_params)
    result = preview(str(path), filename, fmt, mapping)
    definitions = custom_fields.definitions(session)
    headers = list(result.mapping.get("attributes") or [])
    fields_of = custom_fields.column_fields(headers, definitions, mapping.get("fields", {})) if definitions else {}
    extra = {"custom_fields": list(definitions.values()), "attribute_headers": headers, "field_of": fields_of}
    return _preview_page(request, ml, filename, fmt, result, request.query_params.multi_items(), extra=extra)


def _preview_page(
    request: Request,
    ml: MailingList,
    filename: str,
    fmt: str,
    result: Preview,
    params: list[tuple[str, str]],
    status_code: int = 200,
    extra: dict[str, Any] | None = None,
) -> HTMLResponse:
    """The preview, carrying the chosen mapping (`params`) to the Import button's form."""
    params = [(k, v) for k, v in params if k in _MAPPING_FIELDS]
    ctx = {"list": ml, "filename": filename, "p": result, "params": params, "chosen_format": fmt, "formats": FORMATS}
    return render(request, "import_preview.html", {**ctx, **(extra or {})}, status_code)


@router.post("/lists/{list_id}/import")
async def start_import(
    list_id: int, request: Request, session: SessionDep, settings: SettingsDep, engine: EngineDep
) -> Response:
    """Step 3: the import runs in the background; its page shows the progress and then the report."""
    ml = _get_list(session, list_id)
    session.rollback()
    pending = _pending(request, settings, list_id)
    if pending is None:
        request.session["notice"] = _("The upload is gone; choose the file again.")
        return RedirectResponse(f"/lists/{list_id}", status_code=303)
    path, filename = pending
    form = await request.form()
    fmt = str(form.get("format", "auto")) if form.get("format") in FORMATS else "auto"
    mapping = mapping_from_form(form)
    # the same check as the preview's: a mapping that yields no address is never imported
    checked = await run_in_threadpool(preview, str(path), filename, fmt, mapping)
    if not checked.importable:
        params = [(k, v) for k, v in form.multi_items() if isinstance(v, str)]
        return _preview_page(request, ml, filename, fmt, checked, params, 400)

    def start() -> int:
        job_id: int = create_job(session, ImportFile(list_id, path, filename, fmt, mapping, i18n.current())).id  # type: ignore[assignment]  # create_job stores the job
        session.rollback()  # SQLite: the import's writer needs the lock
        run_in_background(engine, settings, job_id)
        return job_id

    job_id = await run_in_threadpool(start)
    request.session.pop("upload", None)
    return RedirectResponse(f"/imports/{job_id}", status_code=303)


@router.post("/lists/{list_id}/paste")
def paste(
    list_id: int,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    engine: EngineDep,
    addresses: Annotated[str, Form()] = "",
) -> Response:
    """Typed or pasted addresses go through the importer as a text file, so the same rules apply."""
    ml = _get_list(session, list_id)
    session.rollback()
    if not addresses.strip():
        return _list_page(request, session, ml, refused({"addresses": _("type or paste at least one address")}))
    directory = Path(settings.upload_dir)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{uuid.uuid4().hex}-upload"
    path.write_text(addresses, encoding="utf-8")
    job_id: int = create_job(
        session, ImportFile(list_id, path, _("typed addresses"), "text", language=i18n.current())
    ).id  # type: ignore[assignment]  # create_job stores the job
    session.rollback()  # SQLite: the import's writer needs the lock
    claim(engine, job_id, utcnow())
    run_import(engine, settings, job_id)
    return RedirectResponse(f"/imports/{job_id}", status_code=303)


def _import_context(session: SessionDep, request: Request, import_id: int) -> dict[str, Any]:
    job = session.get(ImportJob, import_id)
    if job is None:
        raise HTTPException(404, _("no import with id %(id)s", id=import_id))
    done = job.state in ("done", "failed")
    percent = 100.0 if done else (100.0 * job.bytes_read / job.size_bytes if job.size_bytes else 0.0)
    rejects: list[Any] = []
    pager = Pager()
    if done:
        # the links of the polled fragment (/status) lead to the page itself
        rejects, pager = REJECTS.fetch(
            session, request, lambda c: queries.rejects_in_order(import_id, c), f"/imports/{import_id}"
        )
    ml = session.get(MailingList, job.list_id)
    return {
        "job": job,
        "done": done,
        "percent": round(min(percent, 100.0), 1),
        "rejects": rejects,
        "list": ml,
        "rejects_pager": pager,
    }


@router.get("/imports/{import_id}", response_class=HTMLResponse)
def import_page(import_id: int, request: Request, session: SessionDep) -> HTMLResponse:
    return render(request, "import.html", _import_context(session, request, import_id))


@router.get("/imports/{import_id}/status", response_class=HTMLResponse)
def import_status(import_id: int, request: Request, session: SessionDep) -> HTMLResponse:
    return render(request, "_import_status.html", _import_context(session, request, import_id))


@router.get("/imports/{import_id}/rejects.csv")
def import_rejects_csv(import_id: int, session: SessionDep) -> StreamingResponse:
    job = session.get(ImportJob, import_id)
    if job is None:
        raise HTTPException(404, _("no import with id %(id)s", id=import_id))
    rows = queries.all_rejects(session, import_id)
    session.rollback()
    return StreamingResponse(
        csv_lines(
            ["file", "line", "column", "value", "reason"],
            ((job.filename, r.line, r.column, r.value, r.reason) for r in rows),
        ),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="import-{import_id}-rejects.csv"'},
    )

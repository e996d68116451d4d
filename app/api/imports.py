"""/api/v1 routes for imports: upload a file into a list, follow it, read its rejected rows."""

import json
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from sqlmodel import Session

from app.api.errors import get_or_404, request_error
from app.api.pagination import CursorQuery, LimitQuery, Page
from app.audience import queries
from app.audience.export import csv_lines
from app.audience.importer import ImportFile, claim, create_job, run_import, run_in_background
from app.audience.schemas import ImportPublic, RejectPublic
from app.audience.sources.detect import FORMATS
from app.audience.upload import FORM_OVERHEAD, BadUpload, UploadTooLarge, receive_upload
from app.deps import EngineDep, Id, SessionDep, SettingsDep
from app.models import ImportJob, ImportReject, MailingList, utcnow

router = APIRouter(tags=["audience"])

# uploads up to this size are imported before the response; larger ones run in the background
INLINE_IMPORT_BYTES = 1024 * 1024


def _import_public(request: Request, job: ImportJob) -> ImportPublic:
    done = job.state in ("done", "failed")
    progress = 1.0 if done else (job.bytes_read / job.size_bytes if job.size_bytes else 0.0)
    return ImportPublic(
        **job.model_dump(exclude={"stored_path", "heartbeat_at"}),
        progress=round(min(progress, 1.0), 4),
        rejects_csv=str(request.url_for("import_rejects_csv", import_id=job.id)),
    )


_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "format": {"type": "string", "enum": list(FORMATS), "default": "auto"},
                        "column_mapping": {
                            "type": "string",
                            "description": 'JSON, e.g. {"email": "Mail", "first_name": 2, "header": true, "delimiter": ";"}; '
                            '"also_email": ["E-mail 2 Address"] imports further address columns as separate contacts',
                        },
                    },
                }
            }
        },
    }
}


def _parse_options(fields: dict[str, str]) -> tuple[str, dict[str, Any]]:
    fmt = fields.get("format", "auto") or "auto"
    if fmt not in FORMATS:
        raise request_error(422, ["body", "format"], f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    try:
        mapping = json.loads(fields.get("column_mapping") or "{}")
    except json.JSONDecodeError as exc:
        raise request_error(422, ["body", "column_mapping"], f"not valid JSON: {exc}") from None
    if not isinstance(mapping, dict):
        raise request_error(422, ["body", "column_mapping"], "must be a JSON object")
    return fmt, mapping


@router.post(
    "/lists/{list_id}/imports",
    response_model=ImportPublic,
    status_code=202,
    openapi_extra=_UPLOAD_BODY,
    responses={413: {"description": "the upload is larger than max_upload_bytes"}},
    description="Upload a CSV, vCard or text file into the list. Small files are imported before the "
    "response; larger ones in the background: poll GET /imports/{id}.",
)
async def create_import(
    list_id: Id, request: Request, settings: SettingsDep, engine: EngineDep, session: SessionDep
) -> ImportPublic:
    limit = settings.max_upload_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit + FORM_OVERHEAD:
        raise request_error(413, ["body", "file"], f"the upload is larger than the limit of {limit} bytes")

    def list_exists() -> bool:
        try:
            return session.get(MailingList, list_id) is not None
        finally:
            session.rollback()  # on SQLite an open transaction holds the write lock; the upload may be slow

    if not await run_in_threadpool(list_exists):
        raise request_error(404, ["path", "list_id"], f"no list with id {list_id}")
    try:
        upload = await receive_upload(
            request.headers.get("content-type", ""), request.stream(), Path(settings.upload_dir), limit
        )
    except UploadTooLarge as exc:
        raise request_error(413, ["body", "file"], str(exc).removeprefix("file: ")) from None
    except BadUpload as exc:
        name, _, msg = str(exc).partition(": ")
        raise request_error(422, ["body", name], msg) from None
    stored = upload.path
    assert stored is not None  # receive_upload returns only with a file
    try:
        fmt, mapping = _parse_options(upload.fields)
    except HTTPException:
        stored.unlink(missing_ok=True)
        raise

    def start() -> ImportJob:
        with Session(engine, expire_on_commit=False) as s:
            job = create_job(s, ImportFile(list_id, stored, upload.filename, fmt, mapping))
        assert job.id is not None  # stored by create_job
        if upload.size <= INLINE_IMPORT_BYTES:
            claim(engine, job.id, utcnow())
            return run_import(engine, settings, job.id)
        run_in_background(engine, settings, job.id)
        return job

    job = await run_in_threadpool(start)
    return _import_public(request, job)


def _get_list(session: SessionDep, list_id: int) -> MailingList:
    return get_or_404(session, MailingList, list_id, "list_id", "list")


def _get_import(session: SessionDep, import_id: int) -> ImportJob:
    return get_or_404(session, ImportJob, import_id, "import_id", "import")


@router.get("/lists/{list_id}/imports", response_model=Page[ImportPublic])
def list_imports(
    list_id: Id, request: Request, session: SessionDep, limit: LimitQuery = 100, cursor: CursorQuery = None
) -> Page[ImportPublic]:
    """The list's imports, newest first."""
    _get_list(session, list_id)
    items, next_cursor = queries.imports_page(session, list_id, limit, cursor)
    return Page(items=[_import_public(request, j) for j in items], next_cursor=next_cursor)


@router.get("/imports/{import_id}", response_model=ImportPublic)
def get_import(import_id: Id, request: Request, session: SessionDep) -> ImportPublic:
    return _import_public(request, _get_import(session, import_id))


@router.get("/imports/{import_id}/rejects", response_model=Page[RejectPublic])
def import_rejects(
    import_id: Id, session: SessionDep, limit: LimitQuery = 1000, cursor: CursorQuery = None
) -> Page[RejectPublic]:
    """The import's rejected rows in file order (all of them at once: rejects.csv)."""
    _get_import(session, import_id)
    items, next_cursor = queries.rejects_page(session, import_id, limit, cursor)
    return Page(
        items=[RejectPublic(line=r.line, column=r.column, value=r.value, reason=r.reason) for r in items],
        next_cursor=next_cursor,
    )


@router.get("/imports/{import_id}/rejects.csv", name="import_rejects_csv", response_class=StreamingResponse)
def import_rejects_csv(import_id: Id, engine: EngineDep, session: SessionDep) -> StreamingResponse:
    filename = _get_import(session, import_id).filename
    session.rollback()
    rejects = queries.streamed(engine, queries.rejects_of(import_id), ImportReject)
    rows = ((filename, r.line, r.column, r.value, r.reason) for r in rejects)
    return StreamingResponse(
        csv_lines(["file", "line", "column", "value", "reason"], rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="import-{import_id}-rejects.csv"'},
    )

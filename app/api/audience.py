"""/api/v1 routes for the audience: lists, imports and their rejects, CMS contact push,
suppressions, and the compile preview with its "why" lookup."""

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from app.api.deps import EngineDep, Id, SessionDep, SettingsDep
from app.api.errors import get_or_404, request_error
from app.api.pagination import CursorQuery, LimitQuery, Page, after_id, page_of
from app.audience import suppressions
from app.audience.addresses import InvalidAddress, email_key
from app.audience.cms import CmsUser, upsert_users
from app.audience.compile import UnknownList, compile_audience
from app.audience.export import csv_lines
from app.audience.importer import claim, create_job, run_import, run_in_background
from app.audience.schemas import (
    AudienceCounts,
    AudienceRequest,
    ContactResult,
    ContactsUpsert,
    ContactsUpsertResult,
    ImportPublic,
    ListCreate,
    ListPublic,
    ListUpdate,
    MembershipPublic,
    RejectPublic,
    SuppressionCreate,
    SuppressionPublic,
    SuppressionReason,
    SuppressionUpdate,
    VerdictPublic,
)
from app.audience.sources.detect import FORMATS
from app.audience.upload import FORM_OVERHEAD, BadUpload, UploadTooLarge, receive_upload
from app.audience.why import why
from app.models import ImportJob, ImportReject, ListMember, MailingList, Suppression, utcnow

router = APIRouter(tags=["audience"])

# uploads up to this size are imported before the response; larger ones run in the background
INLINE_IMPORT_BYTES = 1024 * 1024


def _session(engine: Engine) -> Session:
    """A session for work outside the request's own (threads, streamed downloads)."""
    return Session(engine, expire_on_commit=False)


def _paged(engine: Engine, query: Any, model: Any, page: int = 2000) -> Iterator[Any]:
    """Rows of a streamed download, one short transaction per page: a slow client must not hold
    SQLite's write lock (every transaction takes it) for the whole download."""
    last = 0
    while True:
        with _session(engine) as s:
            rows = s.execute(query.where(model.id > last).order_by(model.id).limit(page)).scalars().all()
        if not rows:
            return
        yield from rows
        last = rows[-1].id


# --- lists -----------------------------------------------------------------------------------------


def _list_public(session: SessionDep, ml: MailingList) -> ListPublic:
    count = session.execute(select(func.count()).where(ListMember.list_id == ml.id)).scalar_one()
    return ListPublic(id=ml.id, name=ml.name, description=ml.description, created_at=ml.created_at, member_count=count)  # type: ignore[arg-type]


def _get_list(session: SessionDep, list_id: int) -> MailingList:
    return get_or_404(session, MailingList, list_id, "list_id", "list")


def _name_taken(session: SessionDep, name: str, except_id: int | None = None) -> None:
    existing = session.execute(select(MailingList.id).where(MailingList.name == name)).scalar()
    if existing is not None and existing != except_id:
        raise request_error(409, ["body", "name"], f'a list named "{name}" already exists (id {existing})')


@router.get("/lists", response_model=Page[ListPublic])
def list_lists(session: SessionDep, limit: LimitQuery = 100, cursor: CursorQuery = None) -> Page[ListPublic]:
    """Lists in the order they were created."""
    rows = list(session.execute(after_id(select(MailingList), MailingList.id, cursor).limit(limit + 1)).scalars())
    items, next_cursor = page_of(rows, limit)
    ids = [m.id for m in items]
    counts = dict(
        session.execute(
            select(ListMember.list_id, func.count()).where(ListMember.list_id.in_(ids)).group_by(ListMember.list_id)  # type: ignore[attr-defined]
        ).all()
    )
    return Page(
        items=[
            ListPublic(id=m.id, name=m.name, description=m.description, created_at=m.created_at,
                       member_count=counts.get(m.id, 0))  # type: ignore[arg-type]
            for m in items
        ],
        next_cursor=next_cursor,
    )  # fmt: skip


@router.post("/lists", response_model=ListPublic, status_code=201)
def create_list(body: ListCreate, session: SessionDep) -> ListPublic:
    _name_taken(session, body.name)
    ml = MailingList(name=body.name, description=body.description)
    session.add(ml)
    session.commit()
    return _list_public(session, ml)


@router.get("/lists/{list_id}", response_model=ListPublic)
def get_list(list_id: Id, session: SessionDep) -> ListPublic:
    return _list_public(session, _get_list(session, list_id))


@router.patch("/lists/{list_id}", response_model=ListPublic)
def update_list(list_id: Id, body: ListUpdate, session: SessionDep) -> ListPublic:
    ml = _get_list(session, list_id)
    if body.name is not None:
        _name_taken(session, body.name, except_id=list_id)
        ml.name = body.name
    if body.description is not None:
        ml.description = body.description
    session.add(ml)
    session.commit()
    return _list_public(session, ml)


@router.delete("/lists/{list_id}", status_code=204, description="Deletes the list and its memberships; contacts stay.")
def delete_list(list_id: Id, session: SessionDep) -> Response:
    ml = _get_list(session, list_id)
    session.execute(ListMember.__table__.delete().where(ListMember.list_id == list_id))  # type: ignore[attr-defined]
    session.delete(ml)
    session.commit()
    return Response(status_code=204)


# --- imports ---------------------------------------------------------------------------------------


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
    try:
        fmt, mapping = _parse_options(upload.fields)
    except HTTPException:
        upload.path.unlink(missing_ok=True)  # type: ignore[union-attr]
        raise

    def start() -> ImportJob:
        with _session(engine) as s:
            job = create_job(s, list_id, upload.filename, str(upload.path), upload.size, fmt, mapping)
        if upload.size <= INLINE_IMPORT_BYTES:
            claim(engine, job.id, utcnow())  # type: ignore[arg-type]
            return run_import(engine, settings, job.id)  # type: ignore[arg-type]
        run_in_background(engine, settings, job.id)  # type: ignore[arg-type]
        return job

    job = await run_in_threadpool(start)
    return _import_public(request, job)


def _get_import(session: SessionDep, import_id: int) -> ImportJob:
    return get_or_404(session, ImportJob, import_id, "import_id", "import")


@router.get("/lists/{list_id}/imports", response_model=Page[ImportPublic])
def list_imports(
    list_id: Id, request: Request, session: SessionDep, limit: LimitQuery = 100, cursor: CursorQuery = None
) -> Page[ImportPublic]:
    """The list's imports, newest first."""
    _get_list(session, list_id)
    query = after_id(select(ImportJob).where(ImportJob.list_id == list_id), ImportJob.id, cursor, descending=True)
    items, next_cursor = page_of(list(session.execute(query.limit(limit + 1)).scalars()), limit)
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
    query = after_id(select(ImportReject).where(ImportReject.import_id == import_id), ImportReject.id, cursor)
    items, next_cursor = page_of(list(session.execute(query.limit(limit + 1)).scalars()), limit)
    return Page(
        items=[RejectPublic(line=r.line, column=r.column, value=r.value, reason=r.reason) for r in items],
        next_cursor=next_cursor,
    )


@router.get("/imports/{import_id}/rejects.csv", name="import_rejects_csv", response_class=StreamingResponse)
def import_rejects_csv(import_id: Id, engine: EngineDep, session: SessionDep) -> StreamingResponse:
    filename = _get_import(session, import_id).filename
    session.rollback()
    query = select(ImportReject).where(ImportReject.import_id == import_id)
    rows = ((filename, r.line, r.column, r.value, r.reason) for r in _paged(engine, query, ImportReject))
    return StreamingResponse(
        csv_lines(["file", "line", "column", "value", "reason"], rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="import-{import_id}-rejects.csv"'},
    )


# --- contacts (CMS push) ---------------------------------------------------------------------------


@router.post(
    "/contacts/bulk",
    response_model=ContactsUpsertResult,
    description="Upsert up to 10,000 website users keyed by the CMS's user id, with a result per row. "
    "A user whose address changed is updated, not duplicated.",
)
def upsert_contacts(body: ContactsUpsert, session: SessionDep) -> ContactsUpsertResult:
    if body.list_id is not None and session.get(MailingList, body.list_id) is None:
        raise request_error(422, ["body", "list_id"], f"no list with id {body.list_id}")
    users = [CmsUser(c.external_id, c.email, c.first_name, c.last_name, c.attributes) for c in body.contacts]
    try:
        results = upsert_users(session, users, body.list_id, utcnow())
        session.commit()
    except IntegrityError:
        session.rollback()
        raise request_error(409, ["body", "contacts"], "another request changed the same contacts; retry") from None
    by_status = {s: sum(1 for r in results if r.status == s) for s in ("added", "updated", "unchanged")}
    return ContactsUpsertResult(
        **by_status,
        rejected=len(results) - sum(by_status.values()),
        results=[ContactResult(**r.__dict__) for r in results],
    )


# --- suppressions ----------------------------------------------------------------------------------


def _suppression_public(s: Suppression) -> SuppressionPublic:
    return SuppressionPublic(**s.model_dump(include=set(SuppressionPublic.model_fields)))


def _get_suppression(session: SessionDep, suppression_id: int) -> Suppression:
    return get_or_404(session, Suppression, suppression_id, "suppression_id", "suppression")


@router.get("/suppressions", response_model=Page[SuppressionPublic])
def list_suppressions(
    session: SessionDep,
    reason: SuppressionReason | None = None,
    email: str | None = None,
    limit: LimitQuery = 100,
    cursor: CursorQuery = None,
) -> Page[SuppressionPublic]:
    """Suppressions, newest first (all of them at once: suppressions.csv)."""
    query = select(Suppression)
    if reason:
        query = query.where(Suppression.reason == reason)
    if email:
        query = query.where(Suppression.email_key == email_key(email))
    query = after_id(query, Suppression.id, cursor, descending=True).limit(limit + 1)
    items, next_cursor = page_of(list(session.execute(query).scalars()), limit)
    return Page(items=[_suppression_public(s) for s in items], next_cursor=next_cursor)


@router.post("/suppressions", response_model=SuppressionPublic, status_code=201)
def create_suppression(body: SuppressionCreate, session: SessionDep) -> SuppressionPublic:
    try:
        s = suppressions.add(session, body.email, body.reason, body.source, body.note, utcnow())
        session.commit()
    except InvalidAddress as exc:
        raise request_error(422, ["body", "email"], str(exc)) from None
    except suppressions.AlreadySuppressed as exc:
        raise request_error(409, ["body", "email"], str(exc)) from None
    return _suppression_public(s)


@router.get("/suppressions.csv", response_class=StreamingResponse)
def export_suppressions(
    engine: EngineDep, session: SessionDep, reason: SuppressionReason | None = None
) -> StreamingResponse:
    session.rollback()
    query = select(Suppression).where(Suppression.reason == reason) if reason else select(Suppression)
    rows = (
        (x.email, x.reason, x.source, x.note, x.campaign_id, _iso(x.created_at))
        for x in _paged(engine, query, Suppression)
    )
    return StreamingResponse(
        csv_lines(["email", "reason", "source", "note", "campaign_id", "created_at"], rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="suppressions.csv"'},
    )


def _iso(value: datetime) -> str:
    return value.isoformat(timespec="seconds")


@router.get("/suppressions/{suppression_id}", response_model=SuppressionPublic)
def get_suppression(suppression_id: Id, session: SessionDep) -> SuppressionPublic:
    return _suppression_public(_get_suppression(session, suppression_id))


@router.patch("/suppressions/{suppression_id}", response_model=SuppressionPublic)
def update_suppression(suppression_id: Id, body: SuppressionUpdate, session: SessionDep) -> SuppressionPublic:
    s = _get_suppression(session, suppression_id)
    if body.reason is not None:
        s.reason = body.reason
    if body.note is not None:
        s.note = body.note
    session.add(s)
    session.commit()
    return _suppression_public(s)


@router.delete("/suppressions/{suppression_id}", status_code=204, description="The address becomes mailable again.")
def delete_suppression(suppression_id: Id, session: SessionDep) -> Response:
    session.delete(_get_suppression(session, suppression_id))
    session.commit()
    return Response(status_code=204)


# --- audience --------------------------------------------------------------------------------------


@router.post("/audience/preview", response_model=AudienceCounts, description="The compile counts for these lists.")
def audience_preview(body: AudienceRequest, session: SessionDep, settings: SettingsDep) -> AudienceCounts:
    try:
        compiled = compile_audience(session, body.list_ids, settings, utcnow())
    except UnknownList as exc:
        raise request_error(422, ["body", "list_ids"], str(exc)) from None
    return AudienceCounts(**compiled.counts)


@router.get("/audience/why", response_model=VerdictPublic, description="Why an address is in or out of a send.")
def audience_why(
    address: str,
    session: SessionDep,
    settings: SettingsDep,
    list_id: Annotated[list[int] | None, Query(description="the send's lists; all lists when omitted")] = None,
) -> VerdictPublic:
    ids = list_id or list(session.execute(select(MailingList.id)).scalars())
    verdict = why(session, address, ids, settings, utcnow())
    return VerdictPublic(
        address=verdict.address,
        email_key=verdict.email_key,
        included=verdict.included,
        reason=verdict.reason,
        detail=verdict.detail,
        memberships=[MembershipPublic(**m.__dict__) for m in verdict.memberships],
    )

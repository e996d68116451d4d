"""Run an import job: stream the stored file through its source, validate every address, store
contacts in batches of BATCH_ROWS (set-based, see `ImportStore`; a commit every COMMIT_ROWS rows or
COMMIT_SECONDS, with the job's counters in the same transaction) and keep every rejected row with its
line, column and reason. A reading thread parses and validates while a writing thread stores; a CSV
file's plain rows (see `CsvSource.chunks`) are only matched by the reader and normalised by the store
in SQL.

Because the counters commit with the rows they count, a job interrupted by a crash or restart can be
resumed: the rows already counted are read again and skipped, and the report comes out the same as
an uninterrupted run. A job is owned by whoever last claimed it (`heartbeat_at`); a claim older than
`STALE_AFTER` is free to take over."""

import gc
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert, or_, select, text, update
from sqlmodel import Session, col

from app import i18n
from app.addresses import InvalidAddress, has_mx, normalise, plain_address
from app.audience import fields as custom_fields
from app.audience.search import index_missing
from app.audience.sources import ImportFailed, Record, open_source
from app.audience.sources.base import split_name
from app.audience.sources.csv_file import Chunk, CsvSource
from app.audience.store import BatchResult, ImportRow, ImportStore, Packed
from app.db import is_postgresql, session_scope
from app.i18n import N_
from app.i18n import gettext as _
from app.models import ImportJob, ImportReject, utcnow
from app.models.types import NAME_LENGTH, TEXT_LENGTH
from app.settings import Settings
from app.subscription import consent
from app.subscription.erasure import any_erased, erased_among

log = logging.getLogger(__name__)

BATCH_ROWS = 10_000
# A commit (with the job's counters and a progress report) once this many rows are read, or once a batch
# ends this long after the last commit: fewer commits write each page of the address index fewer times
# (a shuffled file touches all of them), and the time bound keeps the progress moving and other
# writers' waits short.
COMMIT_ROWS = 100_000
COMMIT_SECONDS = 5.0
INDEX_NOW_BYTES = 2_000_000  # an import this small is searchable when it ends; a bigger one a moment later
ERASED_REASON = N_("erased: this address was erased at its owner's request and is not imported again")
ANALYZE_AFTER = 10_000
STALE_AFTER = timedelta(minutes=2)
CSV_FAMILY = ("csv", "outlook", "google", "dynamics")
_MAX_VALUE = 2000
_MAX_REASON = 500

Progress = Callable[[ImportJob], None]
# The reader makes a list a row, each kept until its batch is stored: at the interpreter's default (a young
# collection every 700 new objects) the collector runs thousands of times an import, and every tenth of
# those runs walks the older objects again; while imports run, it waits for this many
GC_YOUNG_THRESHOLD = 50_000
_gc_lock = threading.Lock()
_gc_users = 0
_gc_default: tuple[int, int, int] = gc.get_threshold()


@contextmanager
def _fewer_collections() -> Iterator[None]:
    """Raise the collector's threshold for new objects while any import in this process reads."""
    global _gc_users, _gc_default
    with _gc_lock:
        if _gc_users == 0:
            _gc_default = gc.get_threshold()
            gc.set_threshold(max(GC_YOUNG_THRESHOLD, _gc_default[0]), *_gc_default[1:])
        _gc_users += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_users -= 1
            if _gc_users == 0:
                gc.set_threshold(*_gc_default)


def claim(engine: Engine, job_id: int, now: datetime) -> bool:
    """Take the job unless another live process holds it."""
    with session_scope(engine) as session:
        result = session.execute(
            update(ImportJob)
            .where(
                col(ImportJob.id) == job_id,
                col(ImportJob.state).in_(("queued", "running")),
                or_(col(ImportJob.heartbeat_at).is_(None), col(ImportJob.heartbeat_at) < now - STALE_AFTER),
            )
            .values(state="running", heartbeat_at=now)
        )
        return result.rowcount == 1  # type: ignore[attr-defined]  # an UPDATE returns a CursorResult; Session.execute is typed as Result


class _Run:
    def __init__(
        self, session: Session, job: ImportJob, settings: Settings, progress: Progress | None, store: ImportStore
    ) -> None:
        self.session = session
        self.store = store
        self.uncommitted = 0  # rows stored since the last commit
        self.committed_at = time.monotonic()
        self.job = job
        self.settings = settings
        self.progress = progress
        self.rows: dict[str, ImportRow] = {}
        self.plain: list[list[Any]] = []  # plain CSV rows, normalised by the store in SQL
        self.rejects: list[dict[str, Any]] = []
        self.pending_rows = 0
        self.mx: dict[str, bool] = {}
        # counted here and added to the job at each flush: attribute writes on the model are slow per row
        self.rows_read = self.invalid = self.duplicates = 0
        self.queue: queue.Queue[_Batch | None] = queue.Queue(maxsize=2)
        self.writer: threading.Thread | None = None
        self.erased_reason = _(ERASED_REASON)  # here: the writing thread does not share the job's language
        self.failure: BaseException | None = None
        self.fields: dict[str, custom_fields.Definition] = {}
        self.any_erased = True
        self.lines: dict[str, int] = {}  # key -> line of the batch's rows, kept only where someone was erased
        self.field_of: dict[str, str] = {}  # attribute (column header) -> custom field name
        self.column_of: dict[str, int] = {}  # custom field name -> 1-based column number

    def map_fields(self, mapping: dict[str, Any], chosen: dict[str, str]) -> None:
        """Which columns feed which custom fields (chosen ones, or headers that read like a field)."""
        if not isinstance(chosen, dict):
            raise ImportFailed(_("column_mapping.fields: give an object of column name -> custom field name"))
        self.fields = custom_fields.definitions(self.session)
        # most installations have erased nobody: then no batch needs the hashes worked out
        self.any_erased = any_erased(self.session)
        if not self.fields:
            return
        for header, name in chosen.items():
            if name and name not in self.fields:
                raise ImportFailed(
                    _('column_mapping.fields: no custom field named "%(name)s" (for column "%(column)s")',
                      name=name, column=header)
                )  # fmt: skip
        headers = list(mapping.get("attributes") or [])
        self.field_of = custom_fields.column_fields(headers, self.fields, chosen)
        columns = mapping.get("attribute_columns") or {}
        self.column_of = {f: columns[h] for h, f in self.field_of.items() if h in columns}

    def reject(self, line: int, column: int | None, value: str, reason: str) -> None:
        self.rejects.append(
            {
                "import_id": self.job.id,
                "line": line,
                "column": column,
                "value": value[:_MAX_VALUE],
                "reason": reason[:_MAX_REASON],
            }
        )
        self.invalid += 1

    def take(self, record: Record) -> None:
        self.rows_read += 1
        self.pending_rows += 1
        if record.problem:
            self.reject(record.line, None, record.raw, record.problem)
            return
        if not record.addresses:
            self.reject(record.line, None, record.raw, _("no address in this row"))
            return
        for candidate in record.addresses:
            plain = None if candidate.display_name else plain_address(candidate.raw)
            if plain is not None:
                email, key, is_role = plain
                display = ""
            else:
                try:
                    address = normalise(candidate.raw)
                except InvalidAddress as exc:
                    self.reject(candidate.line or record.line, candidate.column, candidate.raw, str(exc))
                    continue
                email, key, is_role = address.email, address.key, address.is_role
                display = address.display_name or candidate.display_name
            if self.settings.check_mx and not self._has_mx(key.rpartition("@")[2]):
                self.reject(
                    candidate.line or record.line,
                    candidate.column,
                    candidate.raw,
                    _('"%(address)s": its domain accepts no mail (no MX)', address=candidate.raw),
                )
                continue
            if key in self.rows:
                self.duplicates += 1
                continue
            first, last = record.first_name, record.last_name
            if not first and not last and display:
                first, last = split_name(display)
            attributes = record.attributes
            line = candidate.line or record.line
            if self.fields:
                checked = self._fields_of(record, line, candidate.raw)
                if checked is None:
                    return
                attributes = checked
            if self.any_erased:
                self.lines[key] = line
            self.rows[key] = (
                email,
                key,
                is_role,
                first[:NAME_LENGTH] if first else None,
                last[:NAME_LENGTH] if last else None,
                attributes,
                line,
            )

    def _fields_of(self, record: Record, line: int, raw: str) -> dict[str, Any] | None:
        """The record's attributes with the custom fields' values checked and converted; None (and a
        reject naming the field, its line and column) when one is not good."""
        attrs = {self.field_of.get(k, k): v for k, v in record.attributes.items()}
        cleaned, problems = custom_fields.clean(self.fields, attrs, complete=True)
        if problems:
            p = problems[0]
            label = self.fields[p.field].label
            value = str(attrs.get(p.field, ""))
            self.reject(line, self.column_of.get(p.field), value or raw, f"{label} ({p.field}): {p.message}")
            return None
        return {k: v for k, v in cleaned.items() if v is not None}

    def _has_mx(self, domain: str) -> bool:
        if domain not in self.mx:
            from app.dns_lookup import resolver  # dnspython loads only for an import that checks MX

            self.mx[domain] = has_mx(resolver(self.settings), domain)
        return self.mx[domain]

    def takes_plain(self) -> bool:
        """Whether plain CSV rows may skip the checks made one by one: not when a row needs what only they
        do (custom fields, an MX lookup, the erased-address check)."""
        return not self.fields and not self.settings.check_mx and not self.any_erased

    def take_chunk(self, chunk: Chunk) -> None:
        for record in chunk.records:
            self.take(record)
        self.plain += chunk.rows
        self.rows_read += len(chunk.rows)
        self.pending_rows += len(chunk.rows)

    def due(self) -> bool:
        return len(self.rows) >= BATCH_ROWS or len(self.rejects) >= BATCH_ROWS or self.pending_rows >= BATCH_ROWS

    def hand_off(self, bytes_read: int, last: bool = False) -> None:
        """Pass the batch to the writer and start a new one. Blocks while the writer is two batches behind."""
        if self.failure is not None:
            raise self.failure
        batch = _Batch(
            list(self.rows.values()), self.rejects, self.rows_read, self.invalid, self.duplicates, bytes_read, last,
            self.lines, self.store.pack(self.plain),
        )  # fmt: skip
        self.queue.put(batch)
        self.rows, self.rejects, self.lines, self.plain = {}, [], {}, []
        self.pending_rows = self.rows_read = self.invalid = self.duplicates = 0

    def start_writer(self) -> None:
        self.writer = threading.Thread(target=self._write_all, name=f"import-{self.job.id}-writer", daemon=True)
        self.writer.start()

    def finish_writer(self) -> None:
        """Wait for every handed-off batch to be stored; re-raise what stopped the writer."""
        if self.writer is not None:
            self.queue.put(None)
            self.writer.join()
            self.writer = None
        if self.failure is not None:
            raise self.failure

    def _write_all(self) -> None:
        # Parsing runs on while the database works: the driver releases the GIL while it waits.
        while (batch := self.queue.get()) is not None:
            if self.failure is not None:
                continue  # drain, so the reader never blocks on a dead writer
            try:
                self._store(batch)
            except BaseException as exc:  # noqa: BLE001 - handed to the reading thread, which re-raises it
                self.failure = exc

    def _store(self, batch: "_Batch") -> None:
        """Store the batch and add it to the job's counters; commit both together when due."""
        job = self.job
        now = utcnow()
        job.rows_read += batch.rows_read
        job.invalid += batch.invalid
        job.duplicates += batch.duplicates
        source = _source_name(job.format)
        rows = batch.rows
        # one query a batch, and only where someone was ever erased: the hashes are worked out in Python
        erased = erased_among(self.session, [r[1] for r in rows]) if rows and self.any_erased else set()
        if erased:  # the reject keeps no trace of the address
            rows = [r for r in rows if r[1] not in erased]
            lines = sorted(batch.lines[k] for k in erased)
            batch.rejects += [{"import_id": job.id, "line": n, "column": None, "value": "", "reason": self.erased_reason}
                              for n in lines]  # fmt: skip
            job.invalid += len(lines)
        if rows or batch.plain.rows:
            self.store.store(rows, batch.plain)
        if batch.rejects:
            self.session.execute(insert(ImportReject), batch.rejects)
        job.bytes_read = batch.bytes_read
        self.uncommitted += batch.rows_read
        if batch.last or self.uncommitted >= COMMIT_ROWS or time.monotonic() - self.committed_at >= COMMIT_SECONDS:
            self._count(self.store.flush(job.list_id, source, job.id, now))
            job.heartbeat_at = now
            self.session.add(job)
            self.session.commit()
            self.uncommitted, self.committed_at = 0, time.monotonic()
            if self.progress:
                self.progress(job)

    def _count(self, result: BatchResult) -> None:
        job = self.job
        job.added += result.added
        job.updated += result.updated
        job.duplicates += result.duplicates
        job.suppressed += result.suppressed


@dataclass
class _Batch:
    rows: list[ImportRow]
    rejects: list[dict[str, Any]]
    rows_read: int
    invalid: int
    duplicates: int
    bytes_read: int
    last: bool
    lines: dict[str, int]  # key -> line, where someone was ever erased (an erased address's reject names its line)
    plain: Packed  # plain CSV rows (their fields, then their line), packed by the reading thread


def _refresh_statistics(session: Session, job: ImportJob) -> None:
    """PostgreSQL plans the compile from table statistics, which a big import leaves stale until
    autovacuum comes round; without them a 1M-contact compile takes seconds longer (nested loops)."""
    if job.added + job.updated >= ANALYZE_AFTER and is_postgresql(session):
        session.execute(text("ANALYZE contact"))
        session.execute(text("ANALYZE list_member"))
        session.commit()


def _source_name(fmt: str) -> str:
    return "csv" if fmt in CSV_FAMILY else fmt


def _discard_upload(job: ImportJob, settings: Settings) -> None:
    """Delete the stored upload once it is no longer needed; never a file the CLI was pointed at."""
    if not job.stored_path:
        return
    path = Path(job.stored_path)
    if path.resolve().is_relative_to(Path(settings.upload_dir).resolve()):
        path.unlink(missing_ok=True)
    job.stored_path = None


def run_import(engine: Engine, settings: Settings, job_id: int, progress: Progress | None = None) -> ImportJob:
    """Process a claimed job to the end, its reasons in its language. Never raises for a bad file: the job ends
    `failed` with the reason."""
    with Session(engine) as session:
        job = session.get(ImportJob, job_id)
        language = job.language if job is not None else None
    with i18n.speaking(language):
        return _run_import(engine, settings, job_id, progress)


def _run_import(engine: Engine, settings: Settings, job_id: int, progress: Progress | None) -> ImportJob:
    # one connection throughout: the staging table is the connection's own
    with engine.connect() as connection, Session(connection, expire_on_commit=False) as session:
        job = session.get(ImportJob, job_id)
        if job is None:
            raise LookupError(f"no import job {job_id}")
        joined = consent.Entry(0, consent.Action.IMPORT, job.list_id, f"import {job.id} ({job.filename})")
        actor = consent.Actor(consent.ActorKind.IMPORT, f"import {job.id}")
        store = ImportStore(session, joined, actor, index_now=job.size_bytes <= INDEX_NOW_BYTES)
        already = job.rows_read  # resuming: these rows are stored and counted
        requested = job.column_mapping.get("requested", {})
        fmt = job.column_mapping.get("requested_format", "auto")
        try:
            source = open_source(job.stored_path or "", fmt, requested, filename=job.filename)
            job.format = source.format
            job.column_mapping = {**job.column_mapping, **source.mapping}
            run = _Run(session, job, settings, progress, store)
            run.map_fields(job.column_mapping, requested.get("fields") or {})
            plain = source.plain_layout() if isinstance(source, CsvSource) and run.takes_plain() else None
            store.open(plain)
            run.start_writer()
            try:
                with _fewer_collections():
                    if isinstance(source, CsvSource):
                        # in chunks: a plain row is only matched here, and normalised by the store in SQL
                        for chunk in source.chunks(BATCH_ROWS, plain, skip=already):
                            run.take_chunk(chunk)
                            run.hand_off(source.bytes_read())
                    else:
                        seen = 0
                        for record in source.records():
                            seen += 1
                            if seen <= already:
                                continue
                            run.take(record)
                            if run.due():
                                run.hand_off(source.bytes_read())
                    run.hand_off(job.size_bytes, last=True)
            finally:
                run.finish_writer()
            job.state = "done"
            _refresh_statistics(session, job)
        except ImportFailed as exc:
            session.rollback()  # the batches since the last commit; earlier ones stay, counted
            session.refresh(job)
            job.state, job.error = "failed", str(exc)[:TEXT_LENGTH]
        except Exception as exc:
            log.exception("import %s failed", job_id)
            session.rollback()
            session.refresh(job)
            job.state, job.error = "failed", f"internal error: {type(exc).__name__}: {exc}"[:TEXT_LENGTH]
        try:
            store.close()
        except Exception:
            log.exception("import %s: the staging table was not removed", job_id)
        job.finished_at = utcnow()
        _discard_upload(job, settings)
        session.add(job)
        session.commit()
        if progress:
            progress(job)
        return job


@dataclass(frozen=True)
class ImportFile:
    """A stored file to import into a list: where it is, the name it is shown under, its format
    ("auto": detected) and the columns chosen for the contact fields (None: detected)."""

    list_id: int
    path: Path
    filename: str
    fmt: str = "auto"
    mapping: dict[str, Any] | None = None
    language: str | None = None  # the reject reasons' (the page's that starts it); None: English, as the API's


def create_job(session: Session, file: ImportFile) -> ImportJob:
    """The queued job for the file, committed; `claim` and `run_import` (or `run_in_background`) run it."""
    job = ImportJob(
        list_id=file.list_id,
        filename=file.filename[:500],
        format=file.fmt,
        stored_path=str(file.path),
        size_bytes=file.path.stat().st_size,
        column_mapping={"requested_format": file.fmt, "requested": file.mapping or {}},
        language=i18n.supported(file.language),
    )
    session.add(job)
    session.commit()
    session.refresh(job)
    return job


def import_then_index(engine: Engine, settings: Settings, job_id: int) -> ImportJob:
    """Run the job, then index the contacts it left unsearchable (a big import's)."""
    job = run_import(engine, settings, job_id)
    if job.size_bytes > INDEX_NOW_BYTES:
        index_missing(engine)
    return job


def run_in_background(engine: Engine, settings: Settings, job_id: int) -> threading.Thread | None:
    """Run the job in a thread of this process, if nobody else holds it."""
    if not claim(engine, job_id, utcnow()):
        return None
    thread = threading.Thread(
        target=import_then_index, args=(engine, settings, job_id), name=f"import-{job_id}", daemon=True
    )
    thread.start()
    return thread


def resume_stalled(engine: Engine, settings: Settings) -> list[int]:
    """Pick up jobs whose process died (or that were queued and never started); run them here."""
    now = utcnow()
    with Session(engine) as session:
        ids = (
            session.execute(
                select(col(ImportJob.id)).where(
                    col(ImportJob.state).in_(("queued", "running")),
                    col(ImportJob.created_at) < now - STALE_AFTER,
                    or_(col(ImportJob.heartbeat_at).is_(None), col(ImportJob.heartbeat_at) < now - STALE_AFTER),
                )
            )
            .scalars()
            .all()
        )
    resumed = []
    for job_id in ids:
        if claim(engine, job_id, now):
            run_import(engine, settings, job_id)
            resumed.append(job_id)
    return resumed


def import_file(
    engine: Engine,
    settings: Settings,
    list_id: int,
    path: str,
    fmt: str = "auto",
    mapping: dict[str, Any] | None = None,
    progress: Progress | None = None,
) -> ImportJob:
    """Import a local file in this process (the CLI); the file itself is left where it is."""
    file = ImportFile(list_id, Path(path).resolve(), Path(path).name, fmt, mapping)
    with Session(engine, expire_on_commit=False) as session:
        job = create_job(session, file)
    assert job.id is not None  # stored by create_job
    claim(engine, job.id, utcnow())
    return run_import(engine, settings, job.id, progress)

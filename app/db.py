"""Engines and sessions. SQLite is the embedded default; PostgreSQL is the scale-out path."""

import fcntl
import json
import os
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from operator import itemgetter
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    String,
    Table,
    any_,
    bindparam,
    create_engine,
    event,
    func,
    insert,
    make_url,
    orm,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel import Session, SQLModel

from app.settings import Settings

SQLITE_BUSY_TIMEOUT_MS = 30_000
# how long a sending worker holds back a write transaction while requests with priority run (then it goes on)
PRIORITY_YIELD_MAX_SECONDS = 0.5
PRIORITY_POLL_SECONDS = 0.002
COPY_FROM_ROWS = 8  # fewer rows go in one INSERT: COPY's extra round trips cost more than it saves


def is_sqlite(engine_or_url: Engine | str) -> bool:
    url = engine_or_url if isinstance(engine_or_url, str) else str(engine_or_url.url)
    return url.startswith("sqlite")


def is_postgresql(bind: orm.Session | Connection | Engine) -> bool:
    """Whether a session, connection or engine talks to PostgreSQL (else SQLite), for where the two
    need different SQL."""
    dialect = bind.get_bind().dialect if isinstance(bind, orm.Session) else bind.dialect
    return dialect.name == "postgresql"


def in_values(session: Session, column: Any, values: Sequence[Any], type_: Any) -> Any:
    """column IN values: on PostgreSQL `= ANY(array)`, one parameter whatever the number of values (the
    statement's text, and so its parse and plan, stay the same from batch to batch)."""
    if is_postgresql(session):
        return column == any_(bindparam(None, list(values), type_=ARRAY(type_)))
    return column.in_(values)


def dialect_insert(session: Session) -> Any:
    """The INSERT of the session's database (for its ON CONFLICT clauses)."""
    return postgresql.insert if is_postgresql(session) else sqlite.insert


def chunks(values: Sequence, size: int = 500) -> Iterable[Sequence]:
    """VALUES in slices of SIZE: an IN list per slice keeps every statement under the drivers' parameter limits."""
    for i in range(0, len(values), size):
        yield values[i : i + size]


def where_given(query: Any, *conditions: tuple[Any, Any]) -> Any:
    """QUERY narrowed to column == value for each (column, value) whose value is given: a filter left
    out (None) matches everything."""
    for column, value in conditions:
        if value is not None:
            query = query.where(column == value)
    return query


def save_given(session: Session, row: SQLModel, **values: Any) -> None:
    """ROW with each value that is given set (None keeps the stored one), added to the session; the caller
    commits. The partial update behind every PATCH and edit form."""
    for name, value in values.items():
        if value is not None:
            setattr(row, name, value)
    session.add(row)


# objects the migrations make that the models do not describe (a dialect's own index kinds)
UNMODELLED = ("contact_search_fts", "contact_search_trgm")


def modelled(name: str | None, type_: str, parent_names: Any) -> bool:
    """For Alembic's include_name: whether the models describe this table or index."""
    return not (name or "").startswith(UNMODELLED)


def make_engine(url: str) -> Engine:
    if is_sqlite(url):
        database = make_url(url).database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).parent.mkdir(mode=0o700, parents=True, exist_ok=True)  # the data directory, first run
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        _configure_sqlite(engine)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:
        # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite's implicit BEGIN is deferred).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        # WAL lets the API read while the worker writes; the busy timeout makes writers queue
        # instead of failing with "database is locked".
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:
        # IMMEDIATE takes the write lock up front: a deferred transaction that reads and then
        # writes can fail at once with SQLITE_BUSY when another writer got there first.
        # (A session that only reads asks for a plain BEGIN: in WAL mode it then never waits for writers.)
        conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get("sqlite_read_only") else "BEGIN IMMEDIATE")


def _priority_file(engine: Engine) -> str | None:
    """The file whose lock gives requests priority over the sending workers' writes (SQLite, on disk), or None."""
    database = engine.url.database if is_sqlite(engine) else None
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return database + "-priority"


@contextmanager
def priority_writes(engine: Engine) -> Iterator[None]:
    """While this runs, the sending workers begin no write transaction (each waits up to
    PRIORITY_YIELD_MAX_SECONDS, see yield_to_priority): on SQLite, where one transaction writes at a time,
    a request's few transactions then follow each other instead of each queueing behind a campaign's batch.
    A shared lock on a file beside the database, so it holds across processes; nothing on PostgreSQL."""
    path = _priority_file(engine)
    if path is None:
        yield
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)  # waits only for a worker's check, a moment
        yield
    finally:
        os.close(fd)


def yield_to_priority(engine: Engine) -> None:
    """Before a sending worker's transaction: wait while requests with priority run (priority_writes), at most
    PRIORITY_YIELD_MAX_SECONDS, so a steady stream of them slows a campaign but never stops it."""
    path = _priority_file(engine)
    if path is None:
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + PRIORITY_YIELD_MAX_SECONDS
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return  # nobody has priority now; closing the file lets the next request take it at once
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    return
                time.sleep(PRIORITY_POLL_SECONDS)
    finally:
        os.close(fd)


_engines: dict[str, Engine] = {}


def get_engine(settings: Settings) -> Engine:
    """One engine per database URL per process."""
    url = settings.database_url
    if url not in _engines:
        _engines[url] = make_engine(url)
    return _engines[url]


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def ping(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))


def insert_rows(session: Session, model: type[SQLModel], rows: Sequence[dict[str, Any]]) -> None:
    """Insert ROWS (dicts with the same keys, values already as stored) in the session's transaction.
    PostgreSQL: one COPY, since psycopg runs an executemany as a pipeline of single-row statements
    (most of a sweep's recording time). SQLite: the driver's executemany (a C loop) with the values
    bound here; for a few rows on PostgreSQL, one executemany."""
    if not rows:
        return
    table = model.__table__  # type: ignore[attr-defined]
    if not is_postgresql(session):
        _sqlite_insert_rows(session, table, rows)
        return
    if len(rows) < COPY_FROM_ROWS:
        session.execute(insert(table), list(rows))
        return
    from psycopg import sql

    columns = list(rows[0])
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table.name), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    cursor = session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
    with cursor, cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row([row[c] for c in columns])


def _sqlite_insert_rows(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """The driver's executemany, each value through its column's bind processing here: SQLAlchemy's
    executemany does the same per row through a dict and per-parameter checks, which was a third of
    the sweep's recording time. Falls back to it when a column the rows leave out has a default."""
    columns = list(rows[0])
    if any(c.name not in rows[0] and c.default is not None and not c.primary_key for c in table.columns):
        session.execute(insert(table), list(rows))
        return
    dialect = session.get_bind().dialect
    get = itemgetter(*columns)
    values = [list(get(row)) if len(columns) > 1 else [get(row)] for row in rows]
    for i, c in enumerate(columns):
        if (process := table.c[c].type.bind_processor(dialect)) is not None:  # dates, booleans, JSON
            for v in values:
                v[i] = process(v[i])
    names = ", ".join(f'"{c}"' for c in columns)
    statement = f'INSERT INTO "{table.name}" ({names}) VALUES ({", ".join("?" * len(columns))})'
    session.flush()  # pending ORM rows first, as session.execute would
    cursor = session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.executemany(statement, values)
    finally:
        cursor.close()


def update_rows(
    session: Session, model: type[SQLModel], rows: Sequence[dict[str, Any]], key: str = "id", **same: Any
) -> None:
    """Update rows by primary key in the session's transaction. Each dict in ROWS holds the key ("id"
    unless KEY names another column) and that row's own values (the same keys in every dict); SAME are
    values or SQL expressions every row gets.
    PostgreSQL: one UPDATE .. FROM unnest() with one array parameter per column, whose text (and plan)
    does not change with the number of rows; SQLite: one UPDATE .. FROM json_each over the rows as one
    JSON parameter; for a few rows one executemany. Rows this session has loaded are expired, so they
    read the new values."""
    if not rows:
        return
    session.flush()  # pending ORM changes first, as an ORM update would: the expiry below would drop them
    table = model.__table__  # type: ignore[attr-defined]
    columns = [c for c in rows[0] if c != key]
    if is_postgresql(session):
        arrays = [bindparam(f"_{c}", [r[c] for r in rows], type_=ARRAY(table.c[c].type)) for c in (key, *columns)]
        v = func.unnest(*arrays).table_valued(key, *columns).render_derived(name="v")
        stmt = update(table).where(table.c[key] == v.c[key]).values({**{c: v.c[c] for c in columns}, **same})
        session.connection().execute(stmt)
    elif (
        len(rows) >= COPY_FROM_ROWS
        and _json_rows_ok(session)
        and (rows_json := _sqlite_json_rows(session, table, [key, *columns], rows)) is not None
    ):
        values = _json_columns(rows_json, 1 + len(columns))
        src = select(*values).subquery("v")
        stmt = (
            update(table)
            .where(table.c[key] == src.c[0])
            .values({**{c: src.c[i + 1] for i, c in enumerate(columns)}, **same})
        )
        session.connection().execute(stmt)
    else:
        stmt = (
            update(table)
            .where(table.c[key] == bindparam(f"_{key}"))
            .values({**{c: bindparam(f"_{c}") for c in columns}, **same})
        )
        session.connection().execute(stmt, [{f"_{k}": v for k, v in r.items()} for r in rows])
    ids = {r[key] for r in rows}
    for obj in list(session.identity_map.values()):
        if isinstance(obj, model) and getattr(obj, key) in ids:
            session.expire(obj)


# SQLite: many rows as one JSON parameter read back with json_each, so a statement's text is the same
# whatever the number of rows and SQLAlchemy processes two parameters instead of every row's (its
# per-row work on an executemany was most of the time a sending worker spent recording results).
_SQLITE_JSON_ROWS = (3, 33)  # UPDATE .. FROM


def _json_rows_ok(session: Session) -> bool:
    import sqlite3

    return sqlite3.sqlite_version_info >= _SQLITE_JSON_ROWS


def _sqlite_json_rows(session: Session, table: Any, columns: list[str], rows: Sequence[dict[str, Any]]) -> Any:
    """ROWS as a JSON array of arrays, each value as the column's type stores it (the same text a bound
    parameter would be: a datetime's string, say); None when a value has no JSON form."""
    dialect = session.get_bind().dialect
    processors = [table.c[c].type._cached_bind_processor(dialect) for c in columns]
    if any(processors):
        out = [[p(r[c]) if p else r[c] for c, p in zip(columns, processors, strict=True)] for r in rows]
    else:
        out = [[r[c] for c in columns] for r in rows]
    try:
        return bindparam("_rows", json.dumps(out, allow_nan=False), type_=String)
    except (TypeError, ValueError):
        return None


def _json_columns(rows_json: Any, count: int) -> list[Any]:
    each = func.json_each(rows_json).table_valued("value").alias("j")
    return [func.json_extract(each.c.value, f"$[{i}]").label(f"c{i}") for i in range(count)]

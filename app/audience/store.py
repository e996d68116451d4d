"""The contact store: batched upserts of contacts and list memberships, fast enough for a
million-row import (a handful of statements per batch, whatever the batch size).

A batch arrives already validated and free of duplicates within itself. An address that is already a
contact keeps its row: names given in the batch replace the stored ones, attributes are merged over the
stored ones (so a re-import that lacks a column does not wipe it). A list membership remembers the
most recent import that contained the address; that is how a later batch of the same import knows an
address it meets again is a duplicate inside the file, without holding every key in memory."""

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import ARRAY, Integer, String, any_, bindparam, func, literal, select, update
from sqlmodel import Session, col

from app.addresses import WHITESPACE, plain_address_sql
from app.audience.queries import every_list
from app.audience.search import forget, index_contacts
from app.audience.sources import ImportFailed
from app.audience.sources.csv_file import PlainLayout
from app.db import dialect_insert, is_postgresql
from app.i18n import gettext as _
from app.models import Contact, ListMember, Suppression
from app.models.states import MemberStatus
from app.models.types import NAME_LENGTH, UTCDateTime
from app.subscription import consent

_contact = Contact.__table__  # type: ignore[attr-defined]
_member = ListMember.__table__  # type: ignore[attr-defined]


@dataclass
class ContactRow:
    email: str
    key: str
    is_role: bool = False
    first_name: str | None = None
    last_name: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    line: int = 0  # where the file has it, for a reject found when the batch is stored


@dataclass
class BatchResult:
    added: int = 0
    updated: int = 0
    duplicates: int = 0
    suppressed: int = 0


def suppressed_keys(session: Session, keys: Sequence[str]) -> set[str]:
    query = select(col(Suppression.email_key)).where(key_in(session, col(Suppression.email_key), keys), every_list())
    return set(session.execute(query).scalars())


def _merged(row: ContactRow, first: str | None, last: str | None, attrs: dict[str, Any]) -> dict[str, Any] | None:
    """The changed values for an existing contact, or None when the row changes nothing."""
    new_first = row.first_name or first
    new_last = row.last_name or last
    new_attrs = {**attrs, **row.attributes} if row.attributes else attrs
    if (new_first, new_last, new_attrs) == (first, last, attrs):
        return None
    return {"first_name": new_first, "last_name": new_last, "attributes": new_attrs}


def insert_contacts(session: Session, rows: Sequence[ContactRow], now: datetime) -> int:
    """New contacts straight through the driver: SQLAlchemy's per-row parameter processing would be
    most of a million-row import's time. PostgreSQL gets the whole batch as arrays in one statement.
    ON CONFLICT: another import may have added the same address since our SELECT."""
    columns = "email, email_key, is_role, first_name, last_name, attributes, created_at, updated_at"
    values = [
        [r.email for r in rows],
        [r.key for r in rows],
        [r.is_role for r in rows],
        [r.first_name for r in rows],
        [r.last_name for r in rows],
        [json.dumps(r.attributes) for r in rows],
    ]
    cursor = session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        if is_postgresql(session):
            cursor.execute(
                f"INSERT INTO contact ({columns}) SELECT e, k, r, f, l, a::json, %s, %s "
                # %b: binary arrays; the text format escapes element by element in Python (slow)
                "FROM unnest(%b::text[], %b::text[], %b::bool[], %b::text[], %b::text[], %b::text[]) "
                "AS t(e, k, r, f, l, a) ON CONFLICT (email_key) DO NOTHING",
                [now, now, *values],
            )
        else:
            stamp = now.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")  # as SQLAlchemy stores it
            cursor.executemany(
                f"INSERT INTO contact ({columns}) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (email_key) DO NOTHING",
                [(*row, stamp, stamp) for row in zip(*values, strict=True)],
            )
        return cursor.rowcount if cursor.rowcount >= 0 else len(rows)
    finally:
        cursor.close()


def key_in(session: Session, column: Any, keys: Sequence[str]) -> Any:
    """`column IN keys` with one parameter instead of thousands (whose binding alone would cost more
    than the query): `= ANY(array)` on PostgreSQL, a JSON array through json_each on SQLite."""
    if is_postgresql(session):
        return column == any_(literal(list(keys), ARRAY(String)))
    values = func.json_each(literal(json.dumps(list(keys)))).table_valued("value")
    return column.in_(select(values.c.value))


class _Known(NamedTuple):
    """What the store has for an address of the batch: its contact and its membership of the list
    (a tuple: a million-row import builds one per row)."""

    contact_id: int
    first_name: str | None
    last_name: str | None
    attributes: dict[str, Any] | None
    is_member: bool
    member_import: int | None


@dataclass
class _Plan:
    """What a batch changes, worked out in Python before the few statements that write it."""

    fresh: list[ContactRow] = field(default_factory=list)
    changes: list[dict[str, Any]] = field(default_factory=list)  # contacts whose names or attributes change
    re_member: list[dict[str, Any]] = field(default_factory=list)  # memberships now from this import
    counted: list[str] = field(default_factory=list)  # keys the import counts (not duplicates in it)


def upsert_batch(
    session: Session,
    rows: Sequence[ContactRow],
    list_id: int,
    source: str,
    import_id: int | None,
    now: datetime,
    joined: consent.Entry | None = None,
    actor: consent.Actor | None = None,
    index_now: bool = False,
) -> BatchResult:
    """Add or refresh the batch's contacts and put them in the list; JOINED (its contact id aside) is
    appended to the consent ledger for each contact the batch puts in the list. INDEX_NOW: make the
    batch searchable in this transaction (a small import); otherwise new and changed contacts are left
    to `search.index_missing`. The caller commits."""
    result = BatchResult()
    if not rows:
        return result
    known = _known(session, [r.key for r in rows], list_id)
    plan = _plan(rows, known, import_id, now, result)
    if plan.fresh:
        result.added = insert_contacts(session, plan.fresh, now)
    _apply(session, plan, list_id, import_id)
    if plan.changes and not index_now:
        forget(session, [c["b_id"] for c in plan.changes])
    joining = [r.key for r in rows if r.key not in known or not known[r.key].is_member]
    new_members = _join_list(session, joining, list_id, source, import_id, now)
    actor = actor or consent.Actor(consent.ActorKind.IMPORT)
    if joined is not None and new_members:
        consent.append_many(session, new_members, joined, actor, now)
    if joined is not None:
        _vouch(session, list_id, [k.contact_id for k in known.values() if k.is_member], joined, actor, now)
    if index_now:
        ids_now = select(_contact.c.id).where(key_in(session, _contact.c.email_key, [r.key for r in rows]))
        index_contacts(session, list(session.execute(ids_now).scalars()))
    if plan.counted:
        result.suppressed = len(suppressed_keys(session, plan.counted))
    return result


def _apply(session: Session, plan: _Plan, list_id: int, import_id: int | None) -> None:
    """Write the plan's changes to existing contacts and memberships."""
    if plan.changes:
        session.execute(
            update(_contact)
            .where(_contact.c.id == bindparam("b_id"))
            .values(
                first_name=bindparam("first_name"),
                last_name=bindparam("last_name"),
                attributes=bindparam("attributes"),
                updated_at=bindparam("updated_at"),
            ),
            plan.changes,
        )
    if plan.re_member and import_id is not None:
        session.execute(
            update(_member)
            .where((_member.c.list_id == list_id) & (_member.c.contact_id == bindparam("b_contact")))
            .values(import_id=import_id),
            plan.re_member,
        )


def _known(session: Session, keys: list[str], list_id: int) -> dict[str, _Known]:
    """The batch's addresses that are contacts already, with their membership of the list."""
    rows = session.execute(
        select(
            _contact.c.email_key,
            _contact.c.id,
            _contact.c.first_name,
            _contact.c.last_name,
            _contact.c.attributes,
            _member.c.list_id.is_not(None),
            _member.c.import_id,
        )
        .outerjoin(_member, (_member.c.contact_id == _contact.c.id) & (_member.c.list_id == list_id))
        .where(key_in(session, _contact.c.email_key, keys))
    )
    return {key: _Known._make(rest) for key, *rest in rows}


def _plan(
    rows: Sequence[ContactRow], known: dict[str, _Known], import_id: int | None, now: datetime, result: BatchResult
) -> _Plan:
    """Sort the batch into new contacts, changed ones and duplicates of this import; counts updates
    and duplicates in RESULT."""
    plan = _Plan(fresh=[r for r in rows if r.key not in known])
    for row in rows:
        k = known.get(row.key)
        if k is None:
            plan.counted.append(row.key)
            continue
        if k.is_member and import_id is not None and k.member_import == import_id:
            result.duplicates += 1  # an earlier batch of this same import already took it
            continue
        plan.counted.append(row.key)
        result.updated += 1
        change = _merged(row, k.first_name, k.last_name, k.attributes or {})
        if change is not None:
            plan.changes.append({"b_id": k.contact_id, **change, "updated_at": now})
        if k.is_member:
            plan.re_member.append({"b_contact": k.contact_id})
    return plan


def _join_list(
    session: Session, keys: list[str], list_id: int, source: str, import_id: int | None, now: datetime
) -> list[int]:
    """Put the contacts with these keys in the list, in one INSERT .. SELECT; members already stay.
    Returns the ids of the contacts it put in."""
    if not keys:
        return []
    # the contacts are locked as a foreign key's check locked them: one erased meanwhile waits for this
    # transaction and then takes its new membership with it (PostgreSQL; SQLite has one writer at a time)
    members = (
        select(
            literal(list_id), _contact.c.id, literal(source), literal(import_id, Integer), literal(now, UTCDateTime())
        )
        .where(key_in(session, _contact.c.email_key, keys))
        .with_for_update(key_share=True, of=_contact)
    )
    added = session.execute(
        dialect_insert(session)(_member)
        .from_select(["list_id", "contact_id", "source", "import_id", "added_at"], members)
        .on_conflict_do_nothing(index_elements=["list_id", "contact_id"])
        .returning(_member.c.contact_id)
    )
    return list(added.scalars())


def _vouch(
    session: Session, list_id: int, members: Sequence[int], joined: consent.Entry, actor: consent.Actor, now: datetime
) -> None:
    """An import confirms the waiting signups among the members it brings again, under its own name."""
    confirm_pending(session, list_id, members, replace(joined, action=consent.Action.CONFIRM), actor, now)


def add_members(session: Session, list_id: int, contact_ids: Sequence[int], source: str, now: datetime) -> None:
    """Put contacts in a list (one executemany); those already in it stay as they are."""
    if not contact_ids:
        return
    stmt = dialect_insert(session)(_member).on_conflict_do_nothing(index_elements=["list_id", "contact_id"])
    session.execute(
        stmt, [{"list_id": list_id, "contact_id": c, "source": source, "added_at": now} for c in contact_ids]
    )


def confirm_pending(
    session: Session,
    list_id: int,
    contact_ids: Sequence[int],
    vouched: consent.Entry,
    actor: consent.Actor,
    now: datetime,
) -> list[int]:
    """An import or a CMS push vouches for the consent of the people it brings: those of CONTACT_IDS whose
    membership of the list still waits for a signup's confirmation become `subscribed`, each with VOUCHED (a
    `confirm`, its contact id aside) in the consent ledger. Returns their ids. The caller commits."""
    if not contact_ids:
        return []
    # the list's few waiting signups (a partial index holds only them), not a statement over every id given
    waiting = set(
        session.execute(
            select(_member.c.contact_id).where(
                _member.c.list_id == list_id, _member.c.status == MemberStatus.UNCONFIRMED
            )
        ).scalars()
    )
    pending = sorted(waiting.intersection(contact_ids))
    if not pending:
        return []
    confirmed = list(
        session.execute(
            update(_member)
            .where(
                _member.c.list_id == list_id,
                _member.c.status == MemberStatus.UNCONFIRMED,
                _member.c.contact_id.in_(pending),
            )
            .values(status=MemberStatus.SUBSCRIBED)
            .returning(_member.c.contact_id)
        ).scalars()
    )
    consent.append_many(session, confirmed, vouched, actor, now)
    return confirmed


class Packed(NamedTuple):
    """A batch of plain CSV rows as the text `ImportStore.store` loads, and how many rows it holds."""

    text: str
    rows: int


# An import's row checked one by one (a tuple, not an object):
# email, key, is_role, first_name, last_name, attributes, line.
ImportRow = tuple[str, str, bool, str | None, str | None, dict[str, Any], int]

_STAGE = "import_stage"
_LEFT = "import_left"  # the staged rows a flush did not add: addresses the store had, merged in Python
_RAW = "import_raw"  # the rows of the batches since the last flush, as read; their normal form is made in SQL
# SQLite: the staging table's own page cache (it holds up to a commit's worth of rows), in KiB
SQLITE_STAGE_CACHE_KIB = 32 * 1024
# PostgreSQL: the import connection's memory for a sort (a commit's rows, by key), in the server
POSTGRESQL_IMPORT_WORK_MEM = "64MB"
# PostgreSQL: the import connection's buffers for its temporary tables (a commit's raw and staged rows)
POSTGRESQL_IMPORT_TEMP_BUFFERS = "64MB"


class ImportStore:
    """Stores an import set-based, a few statements whatever the number of rows; contacts the store
    already has come back to Python to be merged exactly as `upsert_batch` merges them.

    Each batch goes into a temporary raw table in one go, as read: SQLite takes the batch as one JSON
    document in one statement (an executemany would hand the GIL back and forth once a row while the
    reading thread parses), PostgreSQL a COPY of CSV text. Rows the importer checked one by one come
    with their normal form; plain CSV rows (`PlainLayout`) come as their fields and get it in SQL
    (`plain_address_sql`, the strip, the names, the attributes as JSON). `flush`, before each commit,
    moves them into the staging table in key order, the first row (by line) of each address only
    (the others are duplicates in the file), then adds the staged rows with their list memberships
    in one or two statements: a shuffled file's 100,000 rows write each page of the email_key index
    once, where ten batches of 10,000 would write it ten times.

    Each contact a flush puts in the list gets JOINED (its contact id aside) in the consent ledger, written
    by the statement that adds the memberships (an INSERT .. SELECT of the rows it just added). INDEX_NOW
    (a small import): the flushed contacts are made searchable in the same transaction; otherwise new
    contacts and changed ones are left unindexed for `search.index_missing`.

    The session must stay on one connection for the whole import (the staging tables are the
    connection's own); `open` and `close` set up and remove them."""

    def __init__(
        self,
        session: Session,
        joined: consent.Entry | None = None,
        actor: consent.Actor | None = None,
        index_now: bool = False,
    ) -> None:
        self.session = session
        self.joined = joined
        self.actor = actor or consent.Actor(consent.ActorKind.IMPORT)
        self.index_now = index_now
        self.postgresql = is_postgresql(session)
        self._temp_cache: int | None = None
        self._staged = 0  # rows in the staging table
        self._raw = 0  # rows in the raw table
        self.plain: PlainLayout | None = None

    def _cursor(self) -> Any:
        return self.session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]

    def _run(self, sql: str, params: Sequence[Any] = ()) -> Any:
        cursor = self._cursor()
        try:
            cursor.execute(sql, params)
            return cursor.fetchall() if cursor.description else cursor.rowcount
        finally:
            cursor.close()

    def open(self, plain: PlainLayout | None = None) -> None:
        """Set up the staging tables; PLAIN: the layout of the plain CSV rows `store` will get."""
        self.plain = plain
        self._raw = 0
        fields = ", ".join(f"c{i} text" for i in range(plain.width)) + ", " if plain is not None else ""
        if self.postgresql:
            self._temp_buffers()
        self._run(f"DROP TABLE IF EXISTS {_RAW}")
        self._run(
            f"CREATE TEMP TABLE {_RAW} ({fields}line integer NOT NULL, s_email text, s_key text, s_role boolean, "
            "s_first text, s_last text, s_attrs text)"
        )
        if self.postgresql:
            # the flush's statements are costed high enough to be JIT-compiled, which takes longer than
            # running them; their sorts of a commit's rows fit in memory
            self._run("SET jit = off")
            self._run(f"SET work_mem = '{POSTGRESQL_IMPORT_WORK_MEM}'")
            self._run(
                f"CREATE TEMP TABLE IF NOT EXISTS {_STAGE} (email text NOT NULL, email_key text NOT NULL, "
                "is_role boolean NOT NULL, first_name text, last_name text, attributes text NOT NULL)"
            )
            self._run(f"CREATE TEMP TABLE IF NOT EXISTS {_LEFT} (LIKE {_STAGE})")
            self._run(f"TRUNCATE {_STAGE}, {_LEFT}")
            self._staged = 0
            return
        ((self._temp_cache,),) = self._run("PRAGMA temp.cache_size")
        self._run(f"PRAGMA temp.cache_size=-{SQLITE_STAGE_CACHE_KIB}")
        self._run(
            # filled in key order by `_stage` (a sort, cheaper than a keyed table's random inserts), read in it
            f"CREATE TEMP TABLE IF NOT EXISTS {_STAGE} (email TEXT NOT NULL, email_key TEXT NOT NULL, "
            "is_role BOOLEAN NOT NULL, first_name TEXT, last_name TEXT, attributes TEXT NOT NULL, line INTEGER)"
        )
        self._run(f"CREATE TEMP TABLE IF NOT EXISTS {_LEFT} AS SELECT * FROM {_STAGE} WHERE 0")
        self._run(f"DELETE FROM {_STAGE}")
        self._run(f"DELETE FROM {_LEFT}")
        self._staged = 0

    def _temp_buffers(self) -> None:
        """PostgreSQL: the temporary tables hold a commit's rows; in the backend's own buffers (8 MB by
        default) they would be written out and read back at every commit. The setting can only change
        before the connection's first temporary table (a pooled connection may have had one: then it stays)."""
        import psycopg  # PostgreSQL only

        self._run("SAVEPOINT import_temp_buffers")
        try:
            self._run(f"SET temp_buffers = '{POSTGRESQL_IMPORT_TEMP_BUFFERS}'")
        except psycopg.errors.InvalidParameterValue:
            self._run("ROLLBACK TO SAVEPOINT import_temp_buffers")
        self._run("RELEASE SAVEPOINT import_temp_buffers")

    def close(self) -> None:
        self._run(f"DROP TABLE IF EXISTS {_STAGE}")
        self._run(f"DROP TABLE IF EXISTS {_LEFT}")
        self._run(f"DROP TABLE IF EXISTS {_RAW}")
        if self.postgresql:
            self._run("RESET jit")
            self._run("RESET work_mem")
        if self._temp_cache is not None:
            self._run(f"PRAGMA temp.cache_size={int(self._temp_cache)}")

    def pack(self, plain: Sequence[list[Any]]) -> "Packed":
        """PLAIN rows (the CSV fields of `open`'s layout, then the line) as the text `store` hands the
        database in one go: CSV for PostgreSQL's COPY (made by the C writer: the driver's row-by-row COPY
        costs a Python call a field), a JSON document for SQLite. Needs no connection: the reading thread
        makes it while the writing one stores the batch before."""
        return Packed(self._text(plain), len(plain))

    def _text(self, rows: Sequence[Sequence[Any]]) -> str:
        if self.postgresql:
            text = io.StringIO()
            csv.writer(text, lineterminator="\n").writerows(rows)
            return text.getvalue()
        return json.dumps(rows, ensure_ascii=False, separators=(",", ":"))

    def store(self, rows: Sequence[ImportRow], plain: "Packed | None" = None) -> None:
        """Take a batch as read: ROWS checked one by one, PLAIN rows (`pack`) to be normalised in SQL at
        `flush`. The caller commits."""
        checked = [(*r[:5], json.dumps(r[5]), r[6]) for r in rows]
        batches = [("s_email, s_key, s_role, s_first, s_last, s_attrs, line", self._text(checked))] if rows else []
        if plain is not None and plain.rows and self.plain is not None:
            batches.append((", ".join(f"c{i}" for i in range(self.plain.width)) + ", line", plain.text))
        for columns, text in batches:
            if self.postgresql:
                with self._cursor() as cursor, cursor.copy(f"COPY {_RAW} ({columns}) FROM STDIN (FORMAT csv)") as copy:
                    copy.write(text)
            else:
                # one statement a batch, so the reading thread gets the GIL back once a batch (not once a row)
                values = ", ".join(f"value->>{i}" for i in range(columns.count(",") + 1))
                self._run(f"INSERT INTO {_RAW} ({columns}) SELECT {values} FROM json_each(?)", [text])
        self._raw += len(rows) + (plain.rows if plain is not None else 0)

    def _stage(self) -> int:
        """Move the rows read since the last flush into the staging table, normalised, the first of each
        address in the file (by line) only; returns how many were duplicates."""
        columns = "email, email_key, is_role, first_name, last_name, attributes"
        normal = self._normal_form()
        if self.postgresql:
            staged = self._run(
                f"INSERT INTO {_STAGE} ({columns}) SELECT DISTINCT ON (email_key) {columns} "
                f"FROM (SELECT {normal}, line FROM {_RAW}) r ORDER BY email_key, line"
            )
        else:
            # the other columns come from the row with the smallest line (SQLite's rule for a lone min())
            staged = self._run(
                f"INSERT INTO {_STAGE} ({columns}, line) SELECT {columns}, min(line) "
                f"FROM (SELECT {normal}, line FROM {_RAW}) GROUP BY email_key ORDER BY email_key"
            )
        self._run(f"TRUNCATE {_RAW}" if self.postgresql else f"DELETE FROM {_RAW}")
        duplicates = self._raw - staged
        self._staged, self._raw = staged, 0
        return duplicates

    def _normal_form(self) -> str:
        """The staging table's columns from a row of the raw table: given (a row checked in Python) or made
        from the plain row's fields as `plain_address` and the CSV source would make them."""
        plain = self.plain
        if plain is None:
            return "s_email AS email, s_key AS email_key, s_role AS is_role, s_first AS first_name, " \
                "s_last AS last_name, s_attrs AS attributes"  # fmt: skip
        spaces = f"'{WHITESPACE}'"

        def value(i: int | None) -> str:
            if i is None:
                return "NULL"
            if self.postgresql:
                return f"nullif(btrim(c{i}, {spaces}), '')"
            # SQLite reads the set of characters to trim anew each call: a value that begins and ends with
            # a character no space can be (33-132, the usual case) is left as it is, at a third of the cost
            c = f"c{i}"
            return (
                f"CASE WHEN unicode({c}) BETWEEN 33 AND 132 AND unicode(substr({c}, -1)) BETWEEN 33 AND 132 "
                f"THEN {c} ELSE nullif(trim({c}, {spaces}), '') END"
            )

        email, key, role = plain_address_sql(f"c{plain.email}", self.postgresql)  # stripped by the source
        names = [f"substr({value(i)}, 1, {NAME_LENGTH})" for i in (plain.first, plain.last)]
        if not plain.attributes:
            attrs = "'{}'"
        elif self.postgresql:
            # the members text by text, an empty value's member NULL and left out by concat_ws (a third of
            # the cost of json_build_object and json_strip_nulls)
            members = ", ".join(
                f"{_literal(json.dumps(n) + ':')} || to_json({value(i)})::text" for i, n in plain.attributes
            )
            attrs = f"'{{' || concat_ws(',', {members}) || '}}'"
        else:
            # the members text by text as in PostgreSQL, an empty value's member left out (json_quote makes
            # NULL 'null'); a json_patch of a json_object, which leaves out nulls, costs a third more
            members = " || ".join(
                f"coalesce({_literal(',' + json.dumps(n) + ':')} || nullif(json_quote({value(i)}), 'null'), '')"
                for i, n in plain.attributes
            )
            attrs = f"'{{' || substr({members}, 2) || '}}'"
        made = {"email": email, "email_key": key, "is_role": role, "first_name": names[0], "last_name": names[1],
                "attributes": attrs}  # fmt: skip
        given = {"email": "s_email", "email_key": "s_key", "is_role": "s_role", "first_name": "s_first",
                 "last_name": "s_last", "attributes": "s_attrs"}  # fmt: skip
        return ", ".join(f"CASE WHEN s_key IS NULL THEN {made[c]} ELSE {given[c]} END AS {c}" for c in made)

    def flush(self, list_id: int, source: str, import_id: int | None, now: datetime) -> BatchResult:
        """Add or refresh the staged contacts and put them in the list. The caller commits."""
        result = BatchResult()
        if not self._raw:
            return result
        result.duplicates = self._stage()
        if not self._staged:
            return result
        self._hold_list(list_id)
        suppressed = {
            key for (key,) in self._run(f"SELECT s.email_key FROM {_STAGE} s JOIN suppression x USING (email_key)")
        }
        # in key order, so the email_key index is written page after page, not all over
        result.added = self._flush_postgresql(list_id, source, import_id, now) if self.postgresql else \
            self._flush_sqlite(list_id, source, import_id, now)  # fmt: skip
        duplicates: set[str] = set()
        if result.added < self._staged and import_id is not None:
            duplicates = self._drop_repeats(list_id, import_id)
            result.duplicates += len(duplicates)
        if result.added + len(duplicates) < self._staged:
            # what is left are addresses the store had before: merged as upsert_batch does, a batch at a time
            p = "%s" if self.postgresql else "?"
            after = ""
            while True:
                left = self._run(
                    "SELECT email, email_key, is_role, first_name, last_name, attributes "
                    f"FROM {_LEFT} WHERE email_key > {p} ORDER BY email_key LIMIT {p}",
                    [after, _KNOWN_BATCH],
                )
                if not left:
                    break
                after = left[-1][1]
                rows = [ContactRow(e, k, bool(r), f, la, json.loads(a)) for e, k, r, f, la, a in left]
                duplicates |= self._merge_known(rows, list_id, source, import_id, now, result)
        if self.postgresql:
            self._run(f"TRUNCATE {_STAGE}, {_LEFT}")
        else:
            self._run(f"DELETE FROM {_STAGE}")
            self._run(f"DELETE FROM {_LEFT}")
        self._staged = 0
        result.suppressed = len(suppressed - duplicates)
        return result

    def _drop_repeats(self, list_id: int, import_id: int) -> set[str]:
        """Take the staged addresses an earlier commit of this same import put in the list out of
        the rows left (duplicates in the file, which change nothing: `_plan` would count them and leave
        them, a waiting signup aside, which `_vouch` confirms); returns their keys. Set-based: a shuffled
        file has them in every commit."""
        p = "%s" if self.postgresql else "?"
        # a scalar subquery, not EXISTS: a probe of the address index and of the membership's key for each
        # of the few rows left, whatever the planner believes of the list (PostgreSQL's statistics of
        # list_member predate the import, and a semi-join then walks every membership the import made)
        gone = self._run(
            f"DELETE FROM {_LEFT} WHERE (SELECT m.import_id FROM contact c JOIN list_member m "
            f"ON m.list_id = {p} AND m.contact_id = c.id WHERE c.email_key = {_LEFT}.email_key "
            f"AND m.status <> {p}) = {p} RETURNING email_key",
            [list_id, MemberStatus.UNCONFIRMED, import_id],
        )
        return {key for (key,) in gone}

    def _hold_list(self, list_id: int) -> None:
        """The list must outlive the flush: PostgreSQL locks its row as a foreign key's check would, once a
        flush instead of once a row, so deleting the list waits for the commit (SQLite: one writer at a time)."""
        lock = " FOR KEY SHARE" if self.postgresql else ""
        p = "%s" if self.postgresql else "?"
        if not self._run(f"SELECT id FROM mailing_list WHERE id = {p}{lock}", [list_id]):
            raise ImportFailed(_("the list was deleted during the import"))

    def _flush_sqlite(self, list_id: int, source: str, import_id: int | None, now: datetime) -> int:
        """New contacts, their memberships and consent rows; the staged rows it did not add (the addresses
        the store had) go to the table `_LEFT`."""
        stamp = now.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")  # as SQLAlchemy stores it
        ((before,),) = self._run("SELECT coalesce(max(id), 0) FROM contact")
        added = self._run(
            "INSERT INTO contact (email, email_key, is_role, first_name, last_name, attributes, created_at, updated_at) "
            f"SELECT email, email_key, is_role, first_name, last_name, attributes, ?, ? FROM {_STAGE} ORDER BY rowid "  # the stage is in key order
            "ON CONFLICT (email_key) DO NOTHING",
            [stamp, stamp],
        )
        # the new contacts are the ones numbered past the old highest id (SQLite hands out max + 1)
        self._run(
            "INSERT INTO list_member (list_id, contact_id, source, import_id, added_at) "
            "SELECT ?, id, ?, ?, ? FROM contact WHERE id > ? ON CONFLICT (list_id, contact_id) DO NOTHING",
            [list_id, source, import_id, stamp, before],
        )
        if added and self.joined is not None:
            new = select(_contact.c.id).where(_contact.c.id > before).order_by(_contact.c.id)
            consent.append_for_query(self.session, new, self.joined, self.actor, now)
        if added and self.index_now:
            index_contacts(self.session, [i for (i,) in self._run("SELECT id FROM contact WHERE id > ?", [before])])
        if added < self._staged:
            # the staged rows in key order probe the address index page after page (cheaper than deleting
            # the added ones by a list of the new contacts' keys)
            self._run(
                f"INSERT INTO {_LEFT} SELECT * FROM {_STAGE} s "
                "WHERE (SELECT c.id FROM contact c WHERE c.email_key = s.email_key) <= ?",
                [before],
            )
        return int(added)

    def _flush_postgresql(self, list_id: int, source: str, import_id: int | None, now: datetime) -> int:
        """New contacts, their memberships and their consent rows in one statement; the staged rows it did
        not add (the addresses the store had) go to the table `_LEFT`."""
        params: list[Any] = [now, now, list_id, source, import_id, now]
        steps = [
            "added AS (INSERT INTO contact "
            "(email, email_key, is_role, first_name, last_name, attributes, created_at, updated_at) "
            # in the stage's order, which is key order (`_stage` inserts it so; a temporary table is read from
            # its start): no second sort of a commit's rows
            f"SELECT email, email_key, is_role, first_name, last_name, attributes::json, %s, %s FROM {_STAGE} "
            "ON CONFLICT (email_key) DO NOTHING RETURNING id, email_key)",
            # the staged rows it did not add, by a hash anti-join on the rows it returns (not an index probe
            # per staged row): the addresses the store had, merged next
            f"kept AS (INSERT INTO {_LEFT} SELECT s.* FROM {_STAGE} s "
            "WHERE NOT EXISTS (SELECT FROM added a WHERE a.email_key = s.email_key))",
            "joined AS (INSERT INTO list_member (list_id, contact_id, source, import_id, added_at) "
            "SELECT %s::integer, id, %s, %s::integer, %s FROM added)",
        ]
        if self.joined is not None:
            row = consent.columns(self.joined, self.actor, now)
            row["detail"] = json.dumps(row["detail"])
            names = ", ".join(row)
            values = ", ".join({"detail": "%s::json", "list_id": "%s::integer"}.get(c, "%s") for c in row)
            steps.append(
                f"consented AS (INSERT INTO consent_event (contact_id, {names}) SELECT id, {values} FROM added)"
            )
            params += list(row.values())
        rows = self._run(
            f"WITH {', '.join(steps)} " + ("SELECT id FROM added" if self.index_now else "SELECT count(*) FROM added"),
            params,
        )
        added = len(rows) if self.index_now else int(rows[0][0])
        if self.index_now:
            index_contacts(self.session, [i for (i,) in rows])
        return added

    def _merge_known(
        self,
        rows: list[ContactRow],
        list_id: int,
        source: str,
        import_id: int | None,
        now: datetime,
        result: BatchResult,
    ) -> set[str]:
        """Contacts the store had before this batch: merged, joined and counted as `upsert_batch` does.
        Returns the keys that are duplicates of an earlier batch of this import."""
        known = _known(self.session, [r.key for r in rows], list_id)
        plan = _plan(rows, known, import_id, now, result)
        _apply(self.session, plan, list_id, import_id)
        if plan.changes and not self.index_now:
            forget(self.session, [c["b_id"] for c in plan.changes])  # index_missing indexes them again
        new_members = _join_list(self.session, [r.key for r in rows], list_id, source, import_id, now)
        if self.joined is not None and new_members:
            consent.append_many(self.session, new_members, self.joined, self.actor, now)
        if self.joined is not None:
            members = [k.contact_id for k in known.values() if k.is_member]
            _vouch(self.session, list_id, members, self.joined, self.actor, now)
        if self.index_now:
            index_contacts(self.session, [k.contact_id for k in known.values()])
        return {r.key for r in rows} - set(plan.counted)


_KNOWN_BATCH = 10_000


def _literal(text: str) -> str:
    """TEXT as an SQL string literal (standard strings: only the quote is doubled)."""
    return "'" + text.replace("'", "''") + "'"

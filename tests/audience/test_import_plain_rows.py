"""Plain CSV rows (one address column whose value needs no parser) are normalised set-based in SQL;
every other row is checked one by one. Both ways must store the same contacts, count the same and
reject the same rows with the same line, column and reason, however the rows are batched."""

import shutil
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, make_url, select
from sqlmodel import Session

from app.audience import importer
from app.audience.sources.csv_file import CsvSource
from app.models import Contact, ImportReject
from app.settings import Settings
from tests.audience.support import make_list
from tests.conftest import _truncate_postgres

ROWS = [
    'email,first_name,last_name,city,"it\'s ""note"""',  # a column name needing quotes in SQL and JSON
    "Bob@Example.COM,Bob,Smith,Berlin,x",
    " carl@example.com ,  Carl ,\tC\xa0,\u3000Rome\u2003,",  # every kind of space str.strip() removes
    "info+news@example.org,,,,",  # a role address with a sub-address
    "Postmaster@Example.org,,,,",
    "dup@example.com,First,One,A,",
    '"Dana <dana@example.com>",Dana,D,,',  # needs the parser
    "jörg@bücher.de,Jörg,,München,",  # needs the parser
    "bad@@example.com,Bad,,,",
    ",NoAddress,,,",
    "x@example.com,Too,Many,fields,here,extra",
    "",
    '"multi@example.com","Line\nBreak",M,"Oslo",',  # a quoted line break: later lines shift
    "after@@example.com,,,,",
    "long@example.com," + "N" * 250 + ",,,",
    'q@example.com,Q,,"Zürich ""Alt"", 8001",back\\slash',
    "a" * 65 + "@example.com,,,,",
    "DUP@example.com,Second,Two,B,",  # a duplicate of a plain row: the first stays
    "dana@example.com,Later,,,",  # a duplicate of a row the parser took: the first stays
    "short@example.com,S",  # fewer fields than the header
    "Bob@example.com,Again,,,",
    "tab@example.com,\u00a0,\u2028,,",  # names of spaces only: none
]


def _import(engine: Engine, settings: Settings, session: Session, path: Path, name: str) -> dict[str, Any]:
    ml = make_list(session, name)
    job = importer.import_file(engine, settings, ml.id, str(path))  # type: ignore[arg-type]
    session.expire_all()
    contacts = sorted(
        (c.email, c.email_key, c.is_role, c.first_name, c.last_name, c.attributes)
        for c in session.execute(select(Contact)).scalars()
    )
    rejects = [
        (r.line, r.column, r.value, r.reason)
        for r in session.execute(
            select(ImportReject).where(ImportReject.import_id == job.id).order_by(ImportReject.line)
        ).scalars()
    ]
    counts = {k: getattr(job, k) for k in ("state", "rows_read", "added", "updated", "duplicates", "invalid")}
    session.commit()
    return {"counts": counts, "contacts": contacts, "rejects": rejects}


def _empty(engine: Engine, settings: Settings, request: pytest.FixtureRequest) -> None:
    """The test's database as it was before the first import (the consent ledger is append-only)."""
    engine.dispose()
    url = make_url(settings.database_url)
    if url.get_backend_name() == "postgresql":
        _truncate_postgres(settings.database_url)
        return
    database = Path(url.database or "")
    for leftover in database.parent.glob(database.name + "-*"):
        leftover.unlink()
    shutil.copy(request.getfixturevalue("sqlite_template"), database)


@pytest.fixture(params=[3, 10_000])
def batches(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> int:
    """Rows a batch (a commit every two): several batches and commits, or one."""
    monkeypatch.setattr(importer, "BATCH_ROWS", request.param)
    monkeypatch.setattr(importer, "COMMIT_ROWS", 2 * request.param)
    return int(request.param)


@pytest.mark.usefixtures("batches")
def test_plain_rows_end_as_rows_checked_one_by_one(
    engine: Engine, settings: Settings, session: Session, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    path = tmp_path / "people.csv"
    path.write_text("\n".join(ROWS) + "\n", encoding="utf-8")

    assert CsvSource(str(path)).plain_layout() is not None
    plain = _import(engine, settings, session, path, "plain")
    _empty(engine, settings, request)  # the same file again into an empty store, every row checked in Python
    request.getfixturevalue("monkeypatch").setattr(CsvSource, "plain_layout", lambda self: None)
    checked = _import(engine, settings, session, path, "checked")

    assert plain == checked
    assert plain["counts"] == {
        "state": "done", "rows_read": 20, "added": 12, "updated": 0, "duplicates": 3, "invalid": 5,
    }  # fmt: skip
    contacts = {c[1]: c for c in plain["contacts"]}
    assert contacts["carl@example.com"][:6] == ("carl@example.com", "carl@example.com", False, "Carl", "C",
                                                 {"city": "Rome"})  # fmt: skip
    assert contacts["bob@example.com"][:5] == ("Bob@example.com", "bob@example.com", False, "Bob", "Smith")
    assert contacts["info+news@example.org"][2] and contacts["postmaster@example.org"][2]
    assert contacts["dup@example.com"][3:5] == ("First", "One")
    assert contacts["dana@example.com"][3] == "Dana"
    assert contacts["long@example.com"][3] == "N" * 200
    assert contacts["q@example.com"][5] == {"city": 'Zürich "Alt", 8001', 'it\'s "note"': "back\\slash"}
    assert contacts["tab@example.com"][3:6] == (None, None, {})
    assert [(line, column) for line, column, _, _ in plain["rejects"]] == [(9, 1), (10, None), (11, None), (15, 1),
                                                                          (18, 1)]  # fmt: skip

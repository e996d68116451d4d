"""A big import leaves its contacts to the search catch-up (so the import itself is not slowed by the
index): they are listed at once, found by search once `index_missing` ran, and a later import that
changes a contact's attributes makes it findable by the new values, not the old ones."""

from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from app.audience import importer
from app.audience.search import ContactFilter, index_missing, page
from app.models import MailingList
from app.settings import Settings


def _found(engine: Engine, q: str) -> list[str]:
    with Session(engine) as s:
        return [c.email for c in page(s, ContactFilter(q), 50, None)[0]]


def test_a_big_import_is_indexed_by_the_catch_up(
    engine: Engine, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(importer, "INDEX_NOW_BYTES", 0)  # every import counts as big
    with Session(engine) as s:
        ml = MailingList(name="News")
        s.add(ml)
        s.commit()
        list_id = ml.id
    first = tmp_path / "first.csv"
    first.write_text("email,company\nkim@example.com,Umbrella\nlee@example.com,Cyberdyne\n")
    importer.import_file(engine, settings, list_id, str(first))  # type: ignore[arg-type]
    assert _found(engine, "") == ["lee@example.com", "kim@example.com"]  # listed at once
    assert _found(engine, "umbrella") == []  # not yet searchable
    assert index_missing(engine) == 2
    assert _found(engine, "umbrella") == ["kim@example.com"]
    assert index_missing(engine) == 0

    second = tmp_path / "second.csv"
    second.write_text("email,company\nkim@example.com,Tyrell\n")
    importer.import_file(engine, settings, list_id, str(second))  # type: ignore[arg-type]
    assert index_missing(engine) == 1
    assert _found(engine, "umbrella") == [] and _found(engine, "tyrell") == ["kim@example.com"]

"""What an import does to contacts the store already has, to addresses repeated in the file (in one
batch and across batches and commits) and to suppressed addresses: one rule however the rows are
batched, on both databases."""

from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlmodel import Session

from app.audience import importer
from app.audience.search import ContactFilter, index_missing, page
from app.models import ConsentEvent, Contact, ImportReject, ListMember, utcnow
from app.settings import Settings
from app.subscription.consent import Actor, ActorKind
from app.subscription.erasure import erase
from tests.audience.support import add_contacts, make_list, suppress

ROWS = [
    "email,first_name,last_name,plan",
    "ann@example.com,,Lee,pro",  # a contact already (named Ann, plan free, team a): merged
    "new1@example.com,New,One,free",
    "NEW1@EXAMPLE.COM,Other,Name,team",  # the same address in the same batch: a duplicate
    "new2@example.com,New,Two,",
    "bad@@example.com,Bad,Row,free",  # invalid: rejected with its line and column
    "member@example.com,Mem,Ber,pro",  # already in the list from an earlier import
    "gone@example.com,Gone,Away,free",  # suppressed: imported, and counted
    "new3@example.com,New,Three,pro",
    "New2@Example.com,Again,Later,pro",  # the same address a batch (and a commit) later: a duplicate
    "Gone@example.com,Gone,Twice,free",  # a duplicate of a suppressed address: counted once
    "ann@example.com,Ann,Other,team",  # a duplicate of the existing contact: the first row's values stay
]


@pytest.mark.parametrize("batch_rows", [3, 10_000])
def test_existing_contacts_duplicates_and_suppressions_whatever_the_batches(
    engine: Engine,
    settings: Settings,
    session: Session,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    batch_rows: int,
) -> None:
    monkeypatch.setattr(importer, "BATCH_ROWS", batch_rows)
    monkeypatch.setattr(importer, "COMMIT_ROWS", 2 * batch_rows)
    other, ml = make_list(session, "Other"), make_list(session, "L")
    add_contacts(session, other, "Ann@example.com")
    ann = session.execute(select(Contact).where(Contact.email_key == "ann@example.com")).scalar_one()
    ann.first_name, ann.attributes = "Ann", {"plan": "free", "team": "a"}
    session.commit()
    first = tmp_path / "first.csv"
    first.write_text("email\nmember@example.com\n")
    earlier = importer.import_file(engine, settings, ml.id, str(first))  # type: ignore[arg-type]
    suppress(session, "gone@example.com", "unsubscribed")
    path = tmp_path / "people.csv"
    path.write_text("\n".join(ROWS) + "\n")

    job = importer.import_file(engine, settings, ml.id, str(path))  # type: ignore[arg-type]

    assert {k: getattr(job, k) for k in ("state", "rows_read", "added", "updated", "duplicates", "invalid")} == {
        "state": "done", "rows_read": 11, "added": 4, "updated": 2, "duplicates": 4, "invalid": 1,
    }  # fmt: skip
    assert job.suppressed == 1 and earlier.id != job.id
    session.expire_all()
    contacts = {c.email_key: c for c in session.execute(select(Contact)).scalars()}
    assert len(contacts) == 6
    ann = contacts["ann@example.com"]
    assert (ann.email, ann.first_name, ann.last_name, ann.attributes) == (
        "Ann@example.com", "Ann", "Lee", {"plan": "pro", "team": "a"},
    )  # fmt: skip
    new1, new2 = contacts["new1@example.com"], contacts["new2@example.com"]
    assert (new1.email, new1.first_name, new1.last_name, new1.attributes) == (
        "new1@example.com",
        "New",
        "One",
        {"plan": "free"},
    )
    assert (new2.first_name, new2.last_name, new2.attributes) == ("New", "Two", {})
    members = {
        m.contact_id: m for m in session.execute(select(ListMember).where(ListMember.list_id == ml.id)).scalars()
    }
    in_file = {"ann", "new1", "new2", "member", "gone", "new3"}
    assert {contacts[f"{n}@example.com"].id for n in in_file} == set(members)
    assert {m.import_id for m in members.values()} == {job.id}  # the member from before now counts as this import's
    rejects = session.execute(select(ImportReject).where(ImportReject.import_id == job.id)).scalars().all()
    assert [(r.line, r.column, r.value, r.reason) for r in rejects] == [
        (6, 1, "bad@@example.com", '"bad@@example.com" is not a valid address')
    ]


@pytest.mark.parametrize("batch_rows", [2, 10_000])
@pytest.mark.parametrize("index_now", [True, False])
def test_consent_rows_erased_addresses_and_search_whatever_the_batches(
    engine: Engine,
    settings: Settings,
    session: Session,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    batch_rows: int,
    index_now: bool,
) -> None:
    """One consent row for each contact the import puts in the list (new ones and ones the store had),
    none for members already; an erased person's address refused with its line, in any batch; the
    contacts found by search when the import ends (small) or after the catch-up (big)."""
    monkeypatch.setattr(importer, "BATCH_ROWS", batch_rows)
    monkeypatch.setattr(importer, "COMMIT_ROWS", 2 * batch_rows)
    monkeypatch.setattr(importer, "INDEX_NOW_BYTES", 10_000_000 if index_now else 0)
    other, ml = make_list(session, "Other"), make_list(session, "L")
    add_contacts(session, other, "old@example.com", "gone@example.com", "left@example.com")
    add_contacts(session, ml, "member@example.com")
    for key in ("gone@example.com", "left@example.com"):
        erased = session.execute(select(Contact).where(Contact.email_key == key)).scalar_one()
        erase(session, erased, Actor(ActorKind.SYSTEM), utcnow())
    session.commit()
    path = tmp_path / "people.csv"
    lines = ["email,company", "new1@example.com,Initech", "old@example.com,Hooli", "member@example.com,Acme",
             "Gone@Example.com,Umbrella", "new2@example.com,Initech", "NEW1@example.com,Dup", "left@example.com,Again"]  # fmt: skip
    path.write_text("\n".join(lines) + "\n")

    job = importer.import_file(engine, settings, ml.id, str(path))  # type: ignore[arg-type]

    assert (job.state, job.added, job.updated, job.invalid, job.duplicates) == ("done", 2, 2, 2, 1)
    session.expire_all()
    ids = {c.email_key: c.id for c in session.execute(select(Contact)).scalars()}
    events = session.execute(select(ConsentEvent).where(ConsentEvent.action == "import")).scalars().all()
    assert sorted(e.contact_id for e in events) == sorted(ids[f"{n}@example.com"] for n in ("new1", "new2", "old"))
    assert {(e.list_id, e.source, e.actor_kind, e.actor) for e in events} == {
        (ml.id, f"import {job.id} (people.csv)", "import", f"import {job.id}")
    }
    rejects = session.execute(select(ImportReject).where(ImportReject.import_id == job.id)).scalars().all()
    assert sorted((r.line, r.value) for r in rejects) == [(5, ""), (8, "")]
    assert all(r.reason.startswith("erased") for r in rejects)
    session.commit()  # SQLite: the test's read ends before the searches take the lock
    if not index_now:
        assert _found(engine, "initech") == []
        index_missing(engine)
    assert _found(engine, "initech") == ["new2@example.com", "new1@example.com"]
    assert _found(engine, "hooli") == ["old@example.com"]


def _found(engine: Engine, q: str) -> list[str]:
    with Session(engine) as s:
        return [c.email for c in page(s, ContactFilter(q), 50, None)[0]]

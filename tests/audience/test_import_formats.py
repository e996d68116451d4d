"""Every source format, from real sample files in tests/data/audience, on both databases."""

import pytest
from sqlalchemy import Engine, select
from sqlmodel import Session

from app.audience.importer import import_file
from app.models import Contact, ImportReject, ListMember
from app.settings import Settings
from tests.audience.conftest import DATA
from tests.audience.helpers import make_list, suppress


def _run(engine: Engine, settings: Settings, session: Session, name: str, **kw):  # type: ignore[no-untyped-def]
    ml = make_list(session, "L")
    job = import_file(engine, settings, ml.id, str(DATA / name), **kw)  # type: ignore[arg-type]
    contacts = {c.email: c for c in session.execute(select(Contact)).scalars()}
    rejects = [(r.line, r.column, r.value, r.reason) for r in session.execute(select(ImportReject)).scalars()]
    return job, contacts, rejects


def _report(job) -> dict:  # type: ignore[no-untyped-def]
    return {k: getattr(job, k) for k in ("state", "format", "rows_read", "added", "updated", "duplicates", "invalid")}


def test_plain_csv(engine: Engine, settings: Settings, session: Session) -> None:
    job, contacts, rejects = _run(engine, settings, session, "plain.csv")
    assert _report(job) == {
        "state": "done", "format": "csv", "rows_read": 7, "added": 5, "updated": 0, "duplicates": 1, "invalid": 1,
    }  # fmt: skip
    assert rejects == [(6, 1, "bob@@example.com", '"bob@@example.com" is not a valid address')]
    bob = contacts["Bob@example.com"]
    assert (bob.first_name, bob.last_name, bob.attributes) == ("Bob", "Baker", {"company": "Baker & Sons, Ltd"})
    assert contacts["carol@example.com"].attributes["notes"] == "two-line\r\nnote"  # quoted newline kept
    assert contacts["postmaster@example.com"].is_role
    assert contacts["dave@example.com"].attributes["company"] == '=HYPERLINK("http://evil")'  # stored as given
    assert job.stored_path is None and (DATA / "plain.csv").exists()  # the CLI's file is never deleted


@pytest.mark.parametrize(
    ("name", "encoding", "delimiter", "expected"),
    [
        ("semicolon_bom.csv", "utf-8-sig", "semicolon", {"jörg@xn--bcher-kva.de": ("Jörg", "Müller", "München")}),
        ("utf16_tab.csv", "utf-16", "tab", {"zoe@example.com": ("Zoë", "Åström", "Göteborg")}),
        ("windows1252.csv", "cp1252", "comma", {"francoise@example.fr": ("Françoise", "Lefèvre", "prix 10€")}),
    ],
)
def test_encodings_and_delimiters(
    engine: Engine, settings: Settings, session: Session, name: str, encoding: str, delimiter: str, expected: dict
) -> None:
    job, contacts, rejects = _run(engine, settings, session, name)
    assert (job.state, job.column_mapping["encoding"], job.column_mapping["delimiter"]) == ("done", encoding, delimiter)
    assert job.added == 2 and rejects == []
    for email, (first, last, attr) in expected.items():
        c = contacts[email]
        assert (c.first_name, c.last_name) == (first, last)
        assert attr in c.attributes.values()


def test_stray_windows_1252_bytes_in_a_utf8_file_are_read_not_dropped(
    engine: Engine, settings: Settings, session: Session
) -> None:
    job, contacts, _ = _run(engine, settings, session, "mixed_encoding.csv")
    assert job.column_mapping["encoding"] == "utf-8"
    assert [contacts[e].first_name for e in ("ana@example.es", "jose@example.es", "ines@example.es")] == [
        "Ana", "José", "Inés",
    ]  # fmt: skip


def test_outlook_export(engine: Engine, settings: Settings, session: Session) -> None:
    job, contacts, rejects = _run(engine, settings, session, "outlook.csv")
    assert _report(job) == {
        "state": "done", "format": "outlook", "rows_read": 4, "added": 4, "updated": 0, "duplicates": 1, "invalid": 2,
    }  # fmt: skip
    assert set(contacts) == {"erin@example.com", "erin.evans@home.example", "frank@example.com", "gina@example.org"}
    assert contacts["erin.evans@home.example"].first_name == "Erin"
    assert contacts["erin@example.com"].attributes["Job Title"] == "Buyer"
    assert rejects[0][:3] == (5, 9, "gina-at-example.com") and "has no @" in rejects[0][3]
    assert rejects[1][0] == 6 and rejects[1][3] == "no address in this row"


def test_google_contacts_export(engine: Engine, settings: Settings, session: Session) -> None:
    job, contacts, rejects = _run(engine, settings, session, "google.csv")
    assert (job.format, job.added, job.invalid) == ("google", 4, 1)
    assert {"hana@example.com", "hana.hall@example.net", "hana@home.example", "ivan@example.ru"} == set(contacts)
    assert contacts["hana.hall@example.net"].last_name == "Hall"
    assert rejects == [(4, 19, "jo@", '"jo@" is not a valid address')]


def test_dynamics_marketing_list_export(engine: Engine, settings: Settings, session: Session) -> None:
    job, contacts, _ = _run(engine, settings, session, "dynamics.csv")
    assert (job.format, job.added) == ("dynamics", 2)
    kim = contacts["kim@example.com"]
    assert (kim.first_name, kim.last_name, kim.attributes["Company Name"]) == ("Kim", "Kline", "Kline AG")
    assert not any("Checksum" in k for k in kim.attributes)


def test_vcard_30_folded_lines_and_several_emails(engine: Engine, settings: Settings, session: Session) -> None:
    job, contacts, rejects = _run(engine, settings, session, "contacts30.vcf")
    assert (job.format, job.rows_read, job.added, job.invalid) == ("vcard", 3, 4, 1)
    assert "ned.nash.with.a.rather.long.local.part.that.gets.folded@example.com" in contacts
    mia = contacts["mia.moss@home.example"]
    assert (mia.first_name, mia.last_name, mia.attributes["organization"]) == ("Mia", "Moss", "Moss Design Studio")
    assert rejects == [(23, None, "olga@@example.com", '"olga@@example.com" is not a valid address')]


def test_vcard_40(engine: Engine, settings: Settings, session: Session) -> None:
    job, contacts, _ = _run(engine, settings, session, "contacts40.vcf")
    assert (job.format, job.added) == ("vcard", 3)
    assert (contacts["quinn@example.com"].first_name, contacts["quinn@example.com"].last_name) == ("Quinn", "Quade")


def test_pasted_text(engine: Engine, settings: Settings, session: Session) -> None:
    job, contacts, rejects = _run(engine, settings, session, "pasted.txt")
    assert (job.format, job.rows_read, job.added, job.invalid) == ("text", 5, 8, 1)
    assert (contacts["bob@example.com"].first_name, contacts["bob@example.com"].last_name) == ("Bob", "Baker")
    assert (contacts["erin@example.com"].first_name, contacts["erin@example.com"].last_name) == ("Erin", "Evans")
    assert contacts["hana@example.com"].last_name == "Hall"
    assert rejects == [(4, 16, "bob@@example.com", '"bob@@example.com" is not a valid address')]


def test_file_without_header(engine: Engine, settings: Settings, session: Session) -> None:
    job, contacts, _ = _run(engine, settings, session, "no_header.csv")
    assert (job.column_mapping["header"], job.added) == (False, 2)
    assert contacts["alice@example.com"].attributes == {"column 2": "Alice"}


def test_explicit_column_mapping(engine: Engine, settings: Settings, session: Session) -> None:
    job, contacts, _ = _run(
        engine, settings, session, "no_header.csv", mapping={"email": 1, "first_name": 2, "header": False}
    )
    assert job.state == "done" and contacts["bob@example.com"].first_name == "Bob"


def test_reimport_updates_and_counts_suppressed(engine: Engine, settings: Settings, session: Session) -> None:
    ml = make_list(session, "L")
    import_file(engine, settings, ml.id, str(DATA / "plain.csv"))  # type: ignore[arg-type]
    suppress(session, "alice@example.com", "unsubscribed")
    again = import_file(engine, settings, ml.id, str(DATA / "plain.csv"))  # type: ignore[arg-type]
    assert (again.added, again.updated, again.duplicates, again.suppressed) == (0, 5, 1, 1)
    members = session.execute(select(ListMember).where(ListMember.list_id == ml.id)).scalars().all()
    assert len(members) == 5 and {m.import_id for m in members} == {again.id}

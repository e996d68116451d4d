"""Every source format, from real sample files in tests/data/audience, on both databases."""

import pytest
from sqlalchemy import Engine, select
from sqlmodel import Session

from app.audience.importer import import_file
from app.models import Contact, ImportReject, ListMember
from app.settings import Settings
from tests.audience.conftest import DATA
from tests.audience.support import make_list, suppress


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
        "state": "done", "format": "outlook", "rows_read": 4, "added": 2, "updated": 0, "duplicates": 0, "invalid": 2,
    }  # fmt: skip
    # one contact per person, from the primary column; the second address stays with it as an attribute
    assert set(contacts) == {"erin@example.com", "frank@example.com"}
    erin = contacts["erin@example.com"]
    assert (erin.attributes["Job Title"], erin.attributes["E-mail 2 Address"]) == ("Buyer", "erin.evans@home.example")
    assert "E-mail Display Name" not in erin.attributes
    assert rejects[0][:3] == (5, 9, "gina-at-example.com") and "has no @" in rejects[0][3]
    assert rejects[1][0] == 6 and rejects[1][3] == "no address in this row"


def test_outlook_export_secondary_addresses_as_separate_contacts_when_asked(
    engine: Engine, settings: Settings, session: Session
) -> None:
    job, contacts, _ = _run(
        engine, settings, session, "outlook.csv", mapping={"also_email": ["E-mail 2 Address", "E-mail 3 Address"]}
    )
    assert (job.format, job.added, job.duplicates, job.invalid) == ("outlook", 4, 1, 2)
    assert set(contacts) == {"erin@example.com", "erin.evans@home.example", "frank@example.com", "gina@example.org"}
    assert contacts["erin.evans@home.example"].first_name == "Erin"
    assert job.column_mapping["email"] == ["E-mail Address", "E-mail 2 Address", "E-mail 3 Address"]


# tests/data/audience/outlook_export.csv: Outlook's "Comma Separated Values" export (Windows-1252, CRLF,
# every field quoted, 92 columns), 2,000 people: 1,846 with an E-mail Address (6 of them exported twice;
# 319 with an E-mail 2 Address too, 57 of those with an E-mail 3 Address), 110 with only an E-mail 2
# Address, 35 without any address and 9 with an Exchange (X.500) address instead of an Internet one.
def test_a_real_sized_outlook_export_takes_the_primary_address_and_names_rows_with_only_a_second_one(
    engine: Engine, settings: Settings, session: Session
) -> None:
    job, contacts, rejects = _run(engine, settings, session, "outlook_export.csv")
    assert _report(job) == {
        "state": "done", "format": "outlook", "rows_read": 2000, "added": 1840, "updated": 0, "duplicates": 6,
        "invalid": 154,
    }  # fmt: skip
    assert job.column_mapping["email"] == ["E-mail Address"]
    assert job.column_mapping["other_emails"] == ["E-mail 2 Address", "E-mail 3 Address"]
    assert not any(e.endswith(("@home.example", "@mobile.example")) for e in contacts)
    assert contacts["viktor.obrien.2@example.org"].first_name == "Viktor"
    reasons = [r[3] for r in rejects]
    assert reasons.count("no address in this row") == 35
    only_second = [r for r in reasons if 'this row has one in "E-mail 2 Address"' in r]
    assert len(only_second) == 110
    assert sum("has no @" in r for r in reasons) == 9

    again = import_file(engine, settings, make_list(session, "L2").id, str(DATA / "outlook_export.csv"),
                        mapping={"also_email": ["E-mail 2 Address"]})  # type: ignore[arg-type]  # fmt: skip
    assert (again.added, again.updated, again.duplicates, again.invalid) == (429, 1840, 6, 44)


def test_google_contacts_export(engine: Engine, settings: Settings, session: Session) -> None:
    job, contacts, rejects = _run(engine, settings, session, "google.csv")
    assert (job.format, job.added, job.invalid) == ("google", 3, 1)
    # the primary column's cell may hold several addresses; "E-mail 2 - Value" is imported only when asked for
    assert {"hana@example.com", "hana.hall@example.net", "ivan@example.ru"} == set(contacts)
    assert contacts["hana@example.com"].attributes["E-mail 2 - Value"] == "hana@home.example"
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

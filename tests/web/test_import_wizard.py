"""The import wizard with a real Outlook export (tests/data/audience/outlook_export.csv: 2,000 people,
1,846 with an E-mail Address of which 6 are exported twice, 319 also with an E-mail 2 Address, 110 with
only an E-mail 2 Address, 35 with no address, 9 with an Exchange address), through the pages, on both
databases."""

import re

from sqlmodel import Session, func, select

from app.models import ImportJob, ListMember
from tests.audience.conftest import DATA
from tests.web.conftest import Browser

OUTLOOK = (DATA / "outlook_export.csv").read_bytes()


def _list(web: Browser, name: str) -> int:
    r = web.post("/lists", {"name": name}, follow_redirects=False)
    return int(r.headers["location"].rsplit("/", 1)[1])


def _upload(web: Browser, list_id: int, body: bytes, filename: str = "contacts.CSV"):  # type: ignore[no-untyped-def]
    web.get(f"/lists/{list_id}")
    r = web.client.post(f"/lists/{list_id}/upload", data={"csrf_token": web.token, "format": "auto"},
                        files={"file": (filename, body, "text/csv")}, follow_redirects=True)  # fmt: skip
    web.token = re.search(r'name="csrf_token" value="([^"]+)"', r.text).group(1)  # type: ignore[union-attr]
    return r


def _selected(html: str, select_id: str) -> str:
    block = re.search(rf'<select id="{select_id}"[^>]*>(.*?)</select>', html, re.S).group(1)  # type: ignore[union-attr]
    return re.search(r'<option value="[^"]*" selected>([^<]*)</option>', block).group(1)  # type: ignore[union-attr]


def _column(html: str, header: str) -> str:
    return re.search(rf'<option value="(\d+)"[^>]*>{re.escape(header)}</option>', html).group(1)  # type: ignore[union-attr]


def _report(web: Browser, r) -> dict[str, int]:  # type: ignore[no-untyped-def]
    job_id = int(re.search(r"/imports/(\d+)/status", r.text).group(1))  # type: ignore[union-attr]
    status = web.get(f"/imports/{job_id}/status")
    for _ in range(600):
        if "data-final" in status.text:
            break
        status = web.get(f"/imports/{job_id}/status")
    assert "data-final" in status.text
    return {k: int(re.search(rf'id="import-{k}">(\d+)<', status.text).group(1))  # type: ignore[union-attr]
            for k in ("added", "updated", "duplicates", "invalid")}  # fmt: skip


def test_outlook_export_preselects_the_primary_address_and_imports_every_person(web, engine):
    list_id = _list(web, "Outlook")
    r = _upload(web, list_id, OUTLOOK)
    page = r.text
    assert 'id="detected-format">outlook<' in r.text
    assert _selected(r.text, "email") == "E-mail Address"
    assert (_selected(r.text, "first_name"), _selected(r.text, "last_name")) == ("First Name", "Last Name")
    # the other address columns are an explicit choice, unticked, saying what happens without them
    assert re.search(r'name="also_email" value="\d+"> also import “E-mail 2 Address” as separate contacts', r.text)
    assert re.search(r"\d+ of the first \d+ rows have an address only here: without this they are rejected", r.text)
    assert "disabled" not in re.search(r"<button type=\"submit\"[^>]*>Import</button>", r.text).group(0)  # type: ignore[union-attr]

    # "Update the preview" with what the page pre-selected keeps the addresses
    form = {"format": "auto", "email": _column(r.text, "E-mail Address"), "header": "yes",
            "first_name": _column(r.text, "First Name"), "last_name": _column(r.text, "Last Name")}  # fmt: skip
    r = web.get(f"/lists/{list_id}/import", params=form)
    assert "viktor.obrien.2@example.org" in r.text and _selected(r.text, "email") == "E-mail Address"
    r = web.post(f"/lists/{list_id}/import", form, follow_redirects=True)
    assert _report(web, r) == {"added": 1840, "updated": 0, "duplicates": 6, "invalid": 154}

    # ticking "also import E-mail 2 Address" adds those addresses as contacts of their own
    second = _list(web, "Outlook, every address")
    _upload(web, second, OUTLOOK)
    r = web.post(f"/lists/{second}/import", {**form, "also_email": _column(page, "E-mail 2 Address")},
                 follow_redirects=True)  # fmt: skip
    assert _report(web, r) == {"added": 429, "updated": 1840, "duplicates": 6, "invalid": 44}
    with Session(engine) as s:
        members = s.exec(select(func.count()).where(ListMember.list_id == second)).one()
    assert members == 1840 + 429


def test_a_mapping_without_addresses_disables_import_and_the_server_refuses_it(web, engine):
    list_id = _list(web, "Outlook")
    r = _upload(web, list_id, OUTLOOK)
    form = {"format": "auto", "email": _column(r.text, "Company"), "header": "yes", "first_name": "", "last_name": ""}
    r = web.get(f"/lists/{list_id}/import", params=form)
    assert re.search(r'id="preview-error">The column “Company” holds no e-mail addresses in the first \d+ rows '
                     r"— choose the column that has them.<", r.text)  # fmt: skip
    assert re.search(r'<button type="submit" disabled[^>]*>Import</button>', r.text)
    # a form posted anyway (an old tab, a script) is refused too, and nothing is imported
    r = web.post(f"/lists/{list_id}/import", form)
    assert r.status_code == 400 and "holds no e-mail addresses" in r.text
    assert _selected(r.text, "email") == "Company", "the page keeps the choice to correct"
    with Session(engine) as s:
        assert s.exec(select(func.count()).select_from(ImportJob)).one() == 0
    # the upload is still there: choosing the right column imports it
    r = web.post(f"/lists/{list_id}/import", {**form, "email": _column(r.text, "E-mail Address")},
                 follow_redirects=True)  # fmt: skip
    assert _report(web, r)["added"] == 1840


def test_a_file_without_an_address_column_says_so_plainly_and_offers_a_column_picker(web):
    list_id = _list(web, "Plain")
    r = _upload(web, list_id, b"name,notes,contact\nAnn,likes tea,ann@example.com (private)\nBo,,bo@example.com\n")
    assert _selected(r.text, "email") == "contact"  # found by the cells' content
    r = _upload(web, list_id, b"just,some,words\nno,addresses,here\n")
    assert 'id="preview-error">No column holds e-mail addresses — choose which column has them.<' in r.text
    assert "column_mapping" not in r.text and "--email-column" not in r.text
    picker = re.search(r'<select id="email" name="email"[^>]*>(.*?)</select>', r.text, re.S).group(1)  # type: ignore[union-attr]
    assert re.findall(r"<option[^>]*>([^<]*)</option>", picker) == [
        "choose the column with the addresses", "just", "some", "words",
    ]  # fmt: skip
    assert re.search(r'<button type="submit" disabled[^>]*>Import</button>', r.text)


def test_the_wizard_maps_columns_to_custom_fields_and_the_import_checks_them(web, engine):
    import html
    import json

    web.post("/fields", {"name": "company", "label": "Company", "type": "text"})
    web.post("/fields", {"name": "employees", "label": "Employees", "type": "number"})
    list_id = _list(web, "Firms")
    r = _upload(web, list_id, b"email,Company,Staff\na@example.com,Acme,12\nb@example.com,Globex,many\n")
    # "Company" reads like the field; "Staff" does not, so it stays an attribute until chosen
    assert _selected(r.text, "field-for-1") == "Company (company, text)"
    assert _selected(r.text, "field-for-2") == "no field (an attribute “Staff”)"
    chosen = [("field_for", json.dumps(["Company", "company"])), ("field_for", json.dumps(["Staff", "employees"]))]
    page = web.get(f"/lists/{list_id}/import", params=[("format", "auto"), *chosen]).text
    assert _selected(page, "field-for-2") == "Employees (employees, number)"
    hidden = [html.unescape(v) for v in re.findall(r'name="field_for" value="([^"]+)"', page)]
    r = web.post(f"/lists/{list_id}/import", {"format": "auto", "field_for": hidden}, follow_redirects=True)
    assert _report(web, r) == {"added": 1, "updated": 0, "duplicates": 0, "invalid": 1}
    with Session(engine) as s:
        job = s.execute(select(ImportJob)).scalars().one()
        assert job.column_mapping["requested"]["fields"] == {"Company": "company", "Staff": "employees"}

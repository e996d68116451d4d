"""The import wizard's preview: the format the importer detects for an upload, the column mapping it
would use, and the first rows as it reads them. It opens the file with the importer's own sources,
so what the page shows is what the import will do (and what the Import button refuses)."""

import csv
import json
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from app.audience.sources import ImportFailed, open_source
from app.audience.sources.base import NoAddressColumn
from app.audience.sources.csv_file import DELIMITERS, CsvSource
from app.audience.sources.textfile import TextFile
from app.i18n import gettext as _

PREVIEW_ROWS = 5
# a file with thousands of columns must not make a page of megabytes: the table shows the first ones
PREVIEW_COLUMNS = 120
CELL_CHARS = 120


@dataclass
class PreviewRow:
    line: int
    addresses: list[str]
    first_name: str | None
    last_name: str | None
    problem: str | None


@dataclass
class OtherAddressColumn:
    """An address column the import leaves out unless the user ticks it."""

    number: int  # 1-based, as the form sends it
    header: str
    chosen: bool
    only_here: int  # sampled rows whose only address is in this column


@dataclass
class Preview:
    format: str = ""
    mapping: dict[str, Any] = field(default_factory=dict)
    headers: list[str] = field(default_factory=list)  # CSV only
    cells: list[list[str]] = field(default_factory=list)  # CSV only: the first rows, cell by cell
    rows: list[PreviewRow] = field(default_factory=list)
    roles: dict[int, str] = field(default_factory=dict)  # CSV column index -> what the import takes from it
    address_column: int | None = None  # 1-based: the primary address column
    name_columns: dict[str, int] = field(default_factory=dict)  # first_name / last_name -> 1-based column
    other_addresses: list[OtherAddressColumn] = field(default_factory=list)
    sample_rows: int = 0
    sample_with_address: int = 0
    no_addresses: str | None = None  # plain words: the mapping yields no address; Import is refused
    error: str | None = None  # the file cannot be imported at all

    @property
    def importable(self) -> bool:
        return self.error is None and self.no_addresses is None

    @property
    def shown_headers(self) -> list[str]:
        return self.headers[:PREVIEW_COLUMNS]

    @property
    def hidden_columns(self) -> int:
        return max(0, len(self.headers) - PREVIEW_COLUMNS)


def _csv_cells(path: str, source: CsvSource) -> list[list[str]]:
    text = TextFile(path)
    try:
        reader = csv.reader(text.text, delimiter=source.delimiter)
        rows = [r for r in islice(reader, PREVIEW_ROWS + 1 + 20) if any(c.strip() for c in r)]
    finally:
        text.close()
    rows = rows[1 if source.has_header else 0 :][:PREVIEW_ROWS]
    return [[c if len(c) <= CELL_CHARS else c[:CELL_CHARS] + "…" for c in r[:PREVIEW_COLUMNS]] for r in rows]


def _describe_csv(out: Preview, path: str, source: CsvSource) -> None:
    cols = source.columns
    out.headers = source.headers
    out.cells = _csv_cells(path, source)
    out.sample_rows, out.sample_with_address = source.sample_rows, source.sample_with_address
    if cols.emails:
        out.address_column = cols.emails[0] + 1
        out.roles[cols.emails[0]] = _("address")
    for i in cols.emails[1:]:
        out.roles[i] = _("address, also imported")
    for i in cols.others:
        out.roles[i] = _("other address, not imported")
    names = ((cols.first, "first_name", _("first name")), (cols.last, "last_name", _("last name")),
             (cols.full, "full_name", _("full name")))  # fmt: skip
    for index, role, label in names:
        if index is not None:
            out.roles[index] = label
            if role != "full_name":
                out.name_columns[role] = index + 1
    out.other_addresses = [OtherAddressColumn(i + 1, source.headers[i], True, 0) for i in cols.emails[1:]] + [
        OtherAddressColumn(i + 1, source.headers[i], False, source.sample_only_in.get(i, 0)) for i in cols.others
    ]
    if isinstance(source.unusable, NoAddressColumn):
        out.no_addresses = source.unusable.plain


def preview(path: str, filename: str, fmt: str, mapping: dict[str, Any]) -> Preview:
    try:
        source = open_source(path, fmt, mapping, filename=filename)
        out = Preview(format=source.format, mapping=dict(source.mapping))
        if isinstance(source, CsvSource):
            _describe_csv(out, path, source)
        if out.no_addresses:
            return out
        records = source.records()
        try:
            for record in islice(records, PREVIEW_ROWS):
                out.rows.append(
                    PreviewRow(
                        record.line,
                        [c.raw for c in record.addresses],
                        record.first_name,
                        record.last_name,
                        record.problem,
                    )
                )
        finally:
            records.close()  # type: ignore[attr-defined]  # every source's records() is a generator
        return out
    except ImportFailed as exc:
        return Preview(format=fmt, mapping=mapping, error=str(exc))


def mapping_from_form(form: Any) -> dict[str, Any]:
    """The column mapping the wizard's form asks for, in the importer's terms (1-based column numbers).
    `form` is the query or form data (it has `get` and `getlist`)."""
    mapping: dict[str, Any] = {}
    if form.get("delimiter") in DELIMITERS:
        mapping["delimiter"] = form["delimiter"]
    if form.get("header") in ("yes", "no"):
        mapping["header"] = form["header"] == "yes"
    email = form.get("email", "")
    if email.isdigit():
        mapping["email"] = int(email)
        also = sorted({int(v) for v in form.getlist("also_email") if v.isdigit() and v != email})
        if also:
            mapping["also_email"] = also
        for name in ("first_name", "last_name"):
            value = form.get(name, "")
            mapping[name] = int(value) if value.isdigit() else None
    chosen = {}
    for value in form.getlist("field_for"):  # ["column header", "custom field name or empty"]
        try:
            header, name = json.loads(value)
        except (ValueError, TypeError):
            continue
        if isinstance(header, str) and isinstance(name, str):
            chosen[header] = name
    if chosen:
        mapping["fields"] = chosen
    return mapping

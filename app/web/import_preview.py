"""The import wizard's preview: the format the importer detects for an upload, the column mapping it
would use, and the first rows as it reads them. It opens the file with the importer's own sources,
so what the page shows is what the import will do."""

import csv
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from app.audience.sources import ImportFailed, open_source
from app.audience.sources.csv_file import DELIMITERS, CsvSource
from app.audience.sources.textfile import TextFile

PREVIEW_ROWS = 5


@dataclass
class PreviewRow:
    line: int
    addresses: list[str]
    first_name: str | None
    last_name: str | None
    problem: str | None


@dataclass
class Preview:
    format: str = ""
    mapping: dict[str, Any] = field(default_factory=dict)
    headers: list[str] = field(default_factory=list)  # CSV only
    cells: list[list[str]] = field(default_factory=list)  # CSV only: the first rows, cell by cell
    rows: list[PreviewRow] = field(default_factory=list)
    roles: dict[int, str] = field(default_factory=dict)  # CSV column index -> email | first_name | last_name
    error: str | None = None


def _csv_cells(path: str, source: CsvSource) -> list[list[str]]:
    text = TextFile(path)
    try:
        reader = csv.reader(text.text, delimiter=source.delimiter)
        rows = [r for r in islice(reader, PREVIEW_ROWS + 1 + 20) if any(c.strip() for c in r)]
    finally:
        text.close()
    return rows[1 if source.has_header else 0 :][:PREVIEW_ROWS]


def preview(path: str, filename: str, fmt: str, mapping: dict[str, Any]) -> Preview:
    try:
        source = open_source(path, fmt, mapping, filename=filename)
        out = Preview(format=source.format, mapping=dict(source.mapping))
        records = source.records()
        try:
            for record in islice(records, PREVIEW_ROWS):
                out.rows.append(PreviewRow(record.line, [c.raw for c in record.addresses], record.first_name,
                                           record.last_name, record.problem))  # fmt: skip
        finally:
            records.close()  # type: ignore[attr-defined]
        if isinstance(source, CsvSource):
            out.headers = source.headers
            out.cells = _csv_cells(path, source)
            cols = source.columns
            out.roles = {i: "email" for i in cols.emails}
            for index, role in ((cols.first, "first_name"), (cols.last, "last_name"), (cols.full, "full_name")):
                if index is not None:
                    out.roles[index] = role
        return out
    except ImportFailed as exc:
        return Preview(format=fmt, mapping=mapping, error=str(exc))


def mapping_from_form(form: dict[str, str]) -> dict[str, Any]:
    """The column mapping the wizard's form asks for, in the importer's terms (1-based column numbers)."""
    mapping: dict[str, Any] = {}
    if form.get("delimiter") in DELIMITERS:
        mapping["delimiter"] = form["delimiter"]
    if form.get("header") in ("yes", "no"):
        mapping["header"] = form["header"] == "yes"
    if form.get("email", "").isdigit():
        mapping["email"] = int(form["email"])
        for name in ("first_name", "last_name"):
            if form.get(name, "").isdigit():
                mapping[name] = int(form[name])
    return mapping

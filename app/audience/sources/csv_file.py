"""CSV files: delimiter and header detection, column mapping, and the exports marketers have
(Outlook contacts, Google Contacts, Microsoft Dynamics CRM marketing lists), recognised by their
column names.

One rule for every caller (web wizard, API, CLI): a row is one person, and its address comes from the
primary address column (Outlook's "E-mail Address", Google's "E-mail 1 - Value", the first column
named like e-mail, or else the column whose cells hold addresses). Further address columns ("E-mail 2
Address", ...) become contacts of their own only when asked for (`also_email`); otherwise they are kept
as attributes of the primary contact, and a row whose only address is in one of them is rejected with
a reason naming that column. A mapping whose address columns hold no address in the sampled rows is
refused before anything is imported."""

import csv
import io
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from app.addresses import InvalidAddress, is_plain, normalise
from app.audience.sources.base import Candidate, ImportFailed, NoAddressColumn, Record, split_name
from app.audience.sources.textfile import TextFile
from app.i18n import N_
from app.i18n import gettext as _

DELIMITERS = {",": N_("comma"), ";": N_("semicolon"), "\t": N_("tab"), "|": N_("vertical bar")}
# a field holds at most this much; longer is a broken file, not an address book
FIELD_LIMIT = 1024 * 1024
# attribute columns one JSON object can take in SQL (SQLite's json_object: 127 arguments; PostgreSQL's: 100)
MAX_PLAIN_ATTRIBUTES = 40
# rows of the sample that detection and the "does the address column hold addresses" check look at
SAMPLE_ROWS = 200

_EMAIL_NAMES = {
    "email", "emailaddress", "mail", "emailaddr", "primaryemail", "useremail", "emailaddress1",
    "correo", "correoelectronico", "courriel", "adressemail", "emailadresse", "epost", "posta",
}  # fmt: skip
_FIRST_NAMES = {"firstname", "givenname", "first", "vorname", "prenom", "prénom", "nombre", "forename"}
_FULL_NAMES = {"name", "fullname", "displayname", "contactname", "contact"}
_LAST_NAMES = {"lastname", "familyname", "surname", "last", "nachname", "nom", "apellido", "apellidos"}


def _key(header: str) -> str:
    return re.sub(r"[\s_\-.:]+", "", header.strip().lower())


@dataclass
class Columns:
    emails: list[int]  # imported, each address a contact; the first is the primary column
    first: int | None = None
    last: int | None = None
    full: int | None = None  # a single name column, split into first and last
    attributes: list[tuple[int, str]] = field(default_factory=list)
    multi_value: bool = False  # Google puts several addresses in one cell, joined by " ::: "
    others: list[int] = field(default_factory=list)  # address columns found but not imported as contacts
    skip: set[int] = field(default_factory=set)  # an export's bookkeeping columns, never attributes


@dataclass(frozen=True)
class PlainLayout:
    """Where a plain row's values are (0-based columns), for the store to read them set-based."""

    width: int
    email: int
    first: int | None
    last: int | None
    attributes: list[tuple[int, str]]


@dataclass
class Chunk:
    rows: list[list[Any]]  # plain rows: the fields as read, then the line number
    records: list[Record]  # every other row, in file order


def _strip_plain(row: list[str], i: int) -> bool:
    """Whether the address in column I is plain once stripped; if so, it is stored stripped."""
    value = row[i].strip()
    if is_plain(value) is None:
        return False
    row[i] = value
    return True


def _sniff_delimiter(sample: str) -> str:
    text = sample[: sample.rfind("\n") + 1] or sample
    best, best_score = ",", (0.0, 0)
    for delimiter in DELIMITERS:
        rows = [r for r in csv.reader(io.StringIO(text), delimiter=delimiter) if r]
        if not rows:
            continue
        width, count = Counter(len(r) for r in rows).most_common(1)[0]
        score = (count / len(rows), width)
        if width > 1 and score > best_score:
            best, best_score = delimiter, score
    return best


def _looks_like_address(cell: str) -> bool:
    if "@" not in cell:
        return False
    try:
        normalise(cell.split(" ::: ")[0])
        return True
    except InvalidAddress:
        return False


def _preset(keys: list[str], headers: list[str]) -> tuple[str, Columns] | None:
    """Outlook, Google and Dynamics exports, by their column names."""
    index = {k: i for i, k in reversed(list(enumerate(keys)))}

    def cols(*names: str) -> list[int]:
        return [index[n] for n in names if n in index]

    def one(*names: str) -> int | None:
        found = cols(*names)
        return found[0] if found else None

    if any(h.startswith("(Do Not Modify)") for h in headers):
        emails = cols("email", "emailaddress", "emailaddress1", "emailaddress2", "emailaddress3")
        if emails:
            skip = {
                i
                for i, h in enumerate(headers)
                if h.startswith("(Do Not Modify)") and _key(h) != "(donotmodify)contact"
            }
            return "dynamics", Columns(emails, one("firstname"), one("lastname"), skip=skip)
    google = sorted(i for i, k in enumerate(keys) if re.fullmatch(r"email\d+value", k))
    if google:
        first, last = one("givenname", "firstname"), one("familyname", "lastname")
        skip = {i for i, k in enumerate(keys) if re.fullmatch(r"email\d+(type|label)", k)}
        return "google", Columns(google, first, last, multi_value=True, skip=skip)
    outlook = cols("emailaddress", "email2address", "email3address")
    if outlook and ("emaildisplayname" in index or "email2address" in index):
        skip = set(
            cols("emaildisplayname", "emailtype", "email2displayname", "email2type", "email3displayname", "email3type")
        )
        return "outlook", Columns(outlook, one("firstname"), one("lastname"), skip=skip)
    return None


def _has_address(row: list[str], i: int) -> bool:
    return i < len(row) and "@" in row[i]


def _resolve(spec: Any, headers: list[str], field_name: str) -> list[int]:
    """A mapping entry (header name, 1-based column number, or a list of them) to column indexes."""
    specs = spec if isinstance(spec, list) else [spec]
    if not specs:
        raise ImportFailed(_("column_mapping.%(field)s: name at least one column", field=field_name))
    out = []
    for s in specs:
        if isinstance(s, int) or (isinstance(s, str) and s.isdigit()):
            n = int(s)
            if not 1 <= n <= len(headers):
                raise ImportFailed(
                    _("column_mapping.%(field)s: column %(n)s does not exist (the file has %(count)s)",
                      field=field_name, n=n, count=len(headers))
                )  # fmt: skip
            out.append(n - 1)
            continue
        wanted = _key(str(s))
        matches = [i for i, h in enumerate(headers) if _key(h) == wanted]
        if not matches:
            raise ImportFailed(
                _('column_mapping.%(field)s: no column named "%(name)s"; columns are: %(columns)s',
                  field=field_name, name=s, columns=", ".join(headers))
            )  # fmt: skip
        out.append(matches[0])
    return out


class CsvSource:
    def __init__(self, path: str, mapping: dict[str, Any] | None = None) -> None:
        mapping = dict(mapping or {})
        self._file = TextFile(path)
        sample = self._file.sample
        self.delimiter = mapping.get("delimiter") or _sniff_delimiter(sample)
        if self.delimiter not in DELIMITERS:
            raise ImportFailed(_("column_mapping.delimiter: use one of , ; tab |"))
        sample_rows = [
            r for r in csv.reader(io.StringIO(sample), delimiter=self.delimiter) if any(c.strip() for c in r)
        ]
        if not sample_rows:
            raise ImportFailed(_("the file has no rows"))
        first = sample_rows[0]
        header = mapping.get("header")
        self.has_header = (not any(_looks_like_address(c) for c in first)) if header is None else bool(header)
        width = max(len(r) for r in sample_rows[:50])
        headers = [h.strip() for h in first] if self.has_header else [f"column {i + 1}" for i in range(width)]
        self.headers = headers
        data = (sample_rows[1:] if self.has_header else sample_rows)[:SAMPLE_ROWS]
        self.format, self.columns = self._map(headers, data, mapping)
        cols = self.columns
        # how the chosen columns fare in the sample: the preview shows it, and none at all is refused
        self.sample_rows = len(data)
        self.sample_with_address = sum(any(_has_address(r, i) for i in cols.emails) for r in data)
        self.sample_only_in = {
            i: sum(_has_address(r, i) and not any(_has_address(r, j) for j in cols.emails) for r in data)
            for i in cols.others
        }
        self.unusable = self._unusable()
        self.mapping = {
            "encoding": self._file.encoding,
            "delimiter": DELIMITERS[self.delimiter],
            "header": self.has_header,
            "email": [headers[i] for i in cols.emails],
            "other_emails": [headers[i] for i in cols.others],
            "first_name": headers[cols.first] if cols.first is not None else None,
            "last_name": headers[cols.last] if cols.last is not None else None,
            "full_name": headers[cols.full] if cols.full is not None else None,
            "attributes": [name for _, name in cols.attributes],
            "attribute_columns": {name: i + 1 for i, name in cols.attributes},
        }

    def _detect(self, keys: list[str], headers: list[str], data: list[list[str]]) -> tuple[str, Columns]:
        """Every address column found (the primary first), the name columns and an export's own columns."""
        if self.has_header:
            preset = _preset(keys, headers)
            if preset:
                return preset
        first = next((i for i, k in enumerate(keys) if k in _FIRST_NAMES), None) if self.has_header else None
        last = next((i for i, k in enumerate(keys) if k in _LAST_NAMES), None) if self.has_header else None
        full = None
        if self.has_header and first is None and last is None:
            full = next((i for i, k in enumerate(keys) if k in _FULL_NAMES), None)
        named = [i for i, k in enumerate(keys) if k in _EMAIL_NAMES] if self.has_header else []
        if not named:
            # no column is called "email": take the column whose cells hold addresses
            hits = Counter(i for row in data for i, cell in enumerate(row) if _looks_like_address(cell))
            named = [hits.most_common(1)[0][0]] if hits else []
        return "csv", Columns(named, first, last, full if full not in named else None)

    def _map(self, headers: list[str], data: list[list[str]], mapping: dict[str, Any]) -> tuple[str, Columns]:
        fmt, found = self._detect([_key(h) for h in headers], headers, data)
        emails = _resolve(mapping["email"], headers, "email") if "email" in mapping else found.emails[:1]
        for i in _resolve(mapping["also_email"], headers, "also_email") if mapping.get("also_email") else []:
            if i not in emails:
                emails.append(i)

        def name(key: str, detected: int | None) -> int | None:
            if key not in mapping:
                return detected
            return _resolve(mapping[key], headers, key)[0] if mapping[key] not in (None, "") else None

        first, last = name("first_name", found.first), name("last_name", found.last)
        full = found.full if "first_name" not in mapping and "last_name" not in mapping else None
        full = full if full not in emails else None
        others = [i for i in found.emails if i not in emails]
        taken = set(emails) | {first, last, full} | found.skip
        # an address column not imported stays with the contact as an attribute: nothing in the file is lost
        attrs = [(i, h.strip() or f"column {i + 1}") for i, h in enumerate(headers) if i not in taken]
        columns = Columns(emails, first, last, full, attrs, found.multi_value, others, found.skip)
        return fmt, columns

    def _unusable(self) -> NoAddressColumn | None:
        if not self.columns.emails:
            return NoAddressColumn(
                "no address column: no column is named like email/e-mail and none holds addresses in the first "
                f"rows; columns are: {', '.join(self.headers)}. "
                "Choose one with column_mapping.email (CLI: --email-column)",
                "No column holds e-mail addresses — choose which column has them.",
            )
        if self.sample_rows and not self.sample_with_address:
            names = ", ".join(f'"{self.headers[i]}"' for i in self.columns.emails)
            return NoAddressColumn(
                f"no address in the address column ({names}) in the first {self.sample_rows} rows; "
                f"columns are: {', '.join(self.headers)}. Choose another with column_mapping.email "
                "(CLI: --email-column)",
                f"The column {', '.join(f'“{self.headers[i]}”' for i in self.columns.emails)} holds no e-mail "
                f"addresses in the first {self.sample_rows} rows — choose the column that has them.",
            )
        return None

    def bytes_read(self) -> int:
        return self._file.bytes_read()

    def plain_layout(self) -> "PlainLayout | None":
        """The columns, when this file's rows can take the set-based path: one address column, no name to
        split, attribute names that are distinct and few enough for one JSON object in SQL."""
        cols = self.columns
        names = [name for _, name in cols.attributes]
        if len(cols.emails) != 1 or cols.multi_value or cols.full is not None:
            return None
        if len(set(names)) != len(names) or len(names) > MAX_PLAIN_ATTRIBUTES:
            return None
        return PlainLayout(len(self.headers), cols.emails[0], cols.first, cols.last, list(cols.attributes))

    def records(self) -> Iterator[Record]:
        for chunk in self.chunks(1000):
            yield from chunk.records

    def chunks(self, size: int, plain: "PlainLayout | None" = None, skip: int = 0) -> Iterator["Chunk"]:
        """The rows in chunks of SIZE, the first SKIP rows left out (a resumed import has them). With PLAIN,
        a row as wide as the header whose address `is_plain` (once stripped) stays a list (its fields, then
        its line) for the store to normalise set-based; every other row is a Record, checked one by one."""
        if self.unusable is not None:
            self._file.close()
            raise self.unusable
        csv.field_size_limit(FIELD_LIMIT)
        reader = csv.reader(self._file.text, delimiter=self.delimiter)
        width = len(self.headers)
        e = plain.email if plain is not None else 0
        rows: list[list[Any]] = []
        records: list[Record] = []
        counted = 0
        try:
            if self.has_header:
                next(reader, None)
            start = reader.line_num + 1
            while True:
                try:
                    for row in reader:
                        # once a row, a million times an import: the plain row is the list the reader made
                        line, start = start, reader.line_num + 1
                        if plain is not None and len(row) == width and (is_plain(row[e]) or _strip_plain(row, e)):
                            counted += 1
                            if counted > skip:
                                row.append(line)  # type: ignore[arg-type]  # the list becomes the plain row: fields, then line
                                rows.append(row)
                        else:
                            record = self._checked(line, row, width)
                            if record is None:
                                continue
                            counted += 1
                            if counted > skip:
                                records.append(record)
                        if len(rows) + len(records) >= size:
                            yield Chunk(rows, records)
                            rows, records = [], []
                    break
                except csv.Error as exc:
                    line, start = start, reader.line_num + 1
                    counted += 1
                    if counted > skip:
                        records.append(Record(line=line, problem=_("unreadable CSV row: %(why)s", why=exc)))
            if rows or records:
                yield Chunk(rows, records)
        finally:
            self._file.close()
        if counted == 0:
            raise ImportFailed(
                _("the file has a header row but no data rows") if self.has_header else _("the file has no rows")
            )

    def _checked(self, line: int, row: list[str], width: int) -> Record | None:
        """The row as a Record (a ragged one rejected); None for a blank row, which is not counted."""
        if not "".join(row).strip():  # blank, or only empty fields
            return None
        if len(row) > width and any(c.strip() for c in row[width:]):
            return Record(
                line=line,
                raw=self.delimiter.join(row),
                problem=_(
                    "expected %(width)s fields, found %(found)s; a value may contain an unquoted %(delimiter)s",
                    width=width,
                    found=len(row),
                    delimiter=_(DELIMITERS[self.delimiter]),
                ),  # fmt: skip
            )
        return self._record(line, row, self.columns)

    def _record(self, line: int, row: list[str], cols: Columns) -> Record:
        # once a row, a million times an import: no helper calls, and the row's text only when a reject shows it
        n = len(row)
        addresses = []
        for i in cols.emails:
            value = row[i].strip() if i < n else ""
            if not value:
                continue
            if cols.multi_value:
                addresses += [Candidate(p.strip(), i + 1) for p in value.split(" ::: ") if p.strip()]
            else:
                addresses.append(Candidate(value, i + 1))
        if not addresses:
            elsewhere = next((i for i in cols.others if i < n and "@" in row[i]), None)
            if elsewhere is not None:
                return Record(
                    line=line,
                    raw=self.delimiter.join(row),
                    problem=_(
                        'no address in "%(column)s"; this row has one in "%(other)s", which is imported only '
                        "when asked for (import that column as separate contacts too)",
                        column=self.headers[cols.emails[0]],
                        other=self.headers[elsewhere],
                    ),  # fmt: skip
                )
        attributes = {}
        for i, name in cols.attributes:
            if i < n and (value := row[i].strip()):
                attributes[name] = value
        first = row[cols.first].strip() if cols.first is not None and cols.first < n else ""
        last = row[cols.last].strip() if cols.last is not None and cols.last < n else ""
        if cols.full is not None and cols.full < n and (full := row[cols.full].strip()):
            first, last = (part or "" for part in split_name(full))
        return Record(
            line=line,
            addresses=addresses,
            first_name=first or None,
            last_name=last or None,
            attributes=attributes,
            raw="" if addresses else self.delimiter.join(row),
        )

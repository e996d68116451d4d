"""What every source yields, and the error for a file that cannot be imported at all."""

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol


class ImportFailed(ValueError):
    """The whole file is unusable (empty, binary, no address column...); the message says why."""


class NoAddressColumn(ImportFailed):
    """No column of a CSV file holds addresses (none found, or the chosen ones are empty). The message
    names the API and CLI options; `plain` says the same for the web page, which offers a column picker."""

    def __init__(self, message: str, plain: str) -> None:
        super().__init__(message)
        self.plain = plain


@dataclass(slots=True)
class Candidate:
    """One address found in a record, and where it was."""

    raw: str
    column: int | None = None
    display_name: str = ""
    line: int | None = None  # when it differs from the record's first line (a vCard property)


@dataclass(slots=True)
class Record:
    line: int
    addresses: list[Candidate] = field(default_factory=list)
    first_name: str | None = None
    last_name: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    problem: str | None = None  # set when the whole record is rejected (e.g. a ragged CSV row)
    raw: str = ""  # shown in the reject when there is no address to show


class Source(Protocol):
    format: str
    mapping: dict[str, Any]  # what was detected or chosen: encoding, delimiter, columns...

    def records(self) -> Iterator[Record]: ...

    def bytes_read(self) -> int: ...


def split_name(full: str) -> tuple[str | None, str | None]:
    """ "Ann Marie Lee" -> ("Ann Marie", "Lee"); "Lee, Ann" -> ("Ann", "Lee"); "Cher" -> ("Cher", None)."""
    full = " ".join(full.replace('"', " ").split())
    if "," in full:
        last, _, first = full.partition(",")
        return first.strip() or None, last.strip() or None
    first, _, last = full.rpartition(" ")
    return (first or last) or None, (last if first else None)

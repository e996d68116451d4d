"""Pick the source for a file: the format asked for, or one guessed from the name and first bytes."""

from pathlib import Path
from typing import Any

from app.audience.sources.base import ImportFailed, Source
from app.audience.sources.csv_file import CsvSource
from app.audience.sources.text import TextSource
from app.audience.sources.textfile import TextFile
from app.audience.sources.vcard import VcardSource
from app.i18n import gettext as _

FORMATS = ("auto", "csv", "vcard", "text")


def _guess(path: str, filename: str) -> str:
    suffix = Path(filename).suffix.lower()
    if suffix in (".vcf", ".vcard"):
        return "vcard"
    if suffix in (".csv", ".tsv"):
        return "csv"
    probe = TextFile(path)  # also refuses empty and binary files before we guess
    sample = probe.sample
    probe.close()
    if "BEGIN:VCARD" in sample[:4096].upper():
        return "vcard"
    if suffix == ".txt":
        return "text"
    first = next((line for line in sample.splitlines() if line.strip()), "")
    # a first line without any address but with separators is a CSV header
    return "csv" if "@" not in first and any(d in first for d in ",;\t") else "text"


def open_source(path: str, format: str = "auto", mapping: dict[str, Any] | None = None, filename: str = "") -> Source:
    if format not in FORMATS:
        raise ImportFailed(
            _("format: unknown format %(format)r; use one of %(formats)s", format=format, formats=", ".join(FORMATS))
        )
    chosen = _guess(path, filename or path) if format == "auto" else format
    if chosen == "vcard":
        return VcardSource(path)
    if chosen == "text":
        return TextSource(path)
    return CsvSource(path, mapping)

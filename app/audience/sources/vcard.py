"""vCard 2.1/3.0/4.0 (.vcf): folded lines, grouped properties (item1.EMAIL), several EMAILs per card."""

import quopri
import re
from collections.abc import Iterator

from app.audience.sources.base import Candidate, ImportFailed, Record, split_name
from app.audience.sources.textfile import TextFile
from app.i18n import gettext as _

_ESCAPES = re.compile(r"\\([\\,;nN:])")


def _unescape(value: str) -> str:
    return _ESCAPES.sub(lambda m: "\n" if m.group(1) in "nN" else m.group(1), value)


def _split_property(line: str) -> tuple[str, dict[str, str], str] | None:
    """`item1.EMAIL;TYPE=work:bob@x` -> ("EMAIL", {"TYPE": "work"}, "bob@x")."""
    in_quotes = False
    for i, ch in enumerate(line):
        if ch == '"':
            in_quotes = not in_quotes
        elif ch == ":" and not in_quotes:
            head, value = line[:i], line[i + 1 :]
            break
    else:
        return None
    name, *params = head.split(";")
    parsed = {}
    for p in params:
        key, _, val = p.partition("=")
        parsed[key.upper()] = val if _ else key  # 2.1 writes bare types: EMAIL;INTERNET;PREF
    return name.rsplit(".", 1)[-1].upper(), parsed, value


def _logical_lines(lines: Iterator[str]) -> Iterator[tuple[int, str]]:
    """Unfold continuation lines (RFC 6350 3.2) and 2.1 quoted-printable soft breaks."""
    current, start = None, 0
    for number, raw in enumerate(lines, 1):
        line = raw.rstrip("\r\n")
        if current is not None and line[:1] in (" ", "\t"):
            current += line[1:]
            continue
        if current is not None and current.endswith("=") and "QUOTED-PRINTABLE" in current.split(":", 1)[0].upper():
            current = current[:-1] + line
            continue
        if current is not None:
            yield start, current
        current, start = line, number
    if current is not None:
        yield start, current


class VcardSource:
    format = "vcard"

    def __init__(self, path: str) -> None:
        self._file = TextFile(path)
        if "BEGIN:VCARD" not in self._file.sample.upper():
            self._file.close()
            raise ImportFailed(_("not a vCard file: no BEGIN:VCARD line in the first 64 KB"))
        self.mapping = {"encoding": self._file.encoding}

    def bytes_read(self) -> int:
        return self._file.bytes_read()

    def records(self) -> Iterator[Record]:
        card: Record | None = None
        full_name = ""
        cards = 0
        try:
            for number, line in _logical_lines(iter(self._file.text)):
                prop = _split_property(line)
                if prop is None:
                    continue
                name, params, value = prop
                if params.get("ENCODING", "").upper() in ("QUOTED-PRINTABLE", "QP"):
                    value = quopri.decodestring(value.encode("latin-1", "replace")).decode(
                        params.get("CHARSET", "utf-8"), "replace"
                    )
                if name == "BEGIN" and value.strip().upper() == "VCARD":
                    card, full_name = Record(line=number), ""
                elif card is None:
                    continue
                elif name == "END":
                    cards += 1
                    yield self._finish(card, full_name)
                    card = None
                elif name == "EMAIL" and value.strip():
                    card.addresses.append(Candidate(_unescape(value.strip()), None, line=number))
                elif name == "FN":
                    full_name = _unescape(value.strip())
                elif name == "N":
                    parts = [_unescape(p).strip() for p in re.split(r"(?<!\\);", value)] + ["", ""]
                    card.last_name, card.first_name = parts[0] or None, parts[1] or None
                elif name == "ORG":
                    card.attributes["organization"] = _unescape(value.replace(";", " ").strip())
                elif name == "TITLE":
                    card.attributes["title"] = _unescape(value.strip())
                elif name == "TEL" and "phone" not in card.attributes:
                    card.attributes["phone"] = value.strip()
            if card is not None:  # last card without END:VCARD: keep what it has
                cards += 1
                yield self._finish(card, full_name)
        finally:
            self._file.close()
        if cards == 0:
            raise ImportFailed(_("no vCards found (no BEGIN:VCARD ... END:VCARD)"))

    @staticmethod
    def _finish(card: Record, full_name: str) -> Record:
        if full_name:
            card.attributes["full_name"] = full_name
            if not card.first_name and not card.last_name:
                card.first_name, card.last_name = split_name(full_name)
        card.raw = full_name or "vCard"
        return card

"""Typed or pasted addresses: any mix of commas, semicolons, spaces and newlines, with
`Name <address>` and `"Last, First" <address>` forms. Words without @ in front of an address are its
display name; any other word without @ is reported as not an address, with its line and column."""

from collections.abc import Iterator

from app.audience.sources.base import Candidate, ImportFailed, Record
from app.audience.sources.textfile import TextFile
from app.i18n import gettext as _


def _segments(line: str) -> Iterator[tuple[int, str]]:
    """Split on , and ; outside quotes and angle brackets; yields (0-based start, text)."""
    start, quoted, angled = 0, False, False
    for i, ch in enumerate(line):
        if ch == '"':
            quoted = not quoted
        elif ch == "<" and not quoted:
            angled = True
        elif ch == ">" and not quoted:
            angled = False
        elif ch in ",;" and not quoted and not angled:
            yield start, line[start:i]
            start = i + 1
    yield start, line[start:]


def _words(segment: str, offset: int) -> Iterator[tuple[int, str]]:
    i = 0
    while i < len(segment):
        if segment[i].isspace():
            i += 1
            continue
        j = i
        while j < len(segment) and not segment[j].isspace():
            j += 1
        yield offset + i, segment[i:j]
        i = j


def candidates(line: str) -> list[Candidate]:
    found = []
    for start, segment in _segments(line):
        if not segment.strip():
            continue
        if "<" in segment or segment.strip().startswith('"'):
            lead = len(segment) - len(segment.lstrip())
            found.append(Candidate(segment.strip(), start + lead + 1))
            continue
        name: list[tuple[int, str]] = []
        for col, word in _words(segment, start):
            if "@" in word:
                found.append(Candidate(word, col + 1, display_name=" ".join(w for _, w in name)))
                name = []
            else:
                name.append((col, word))
        if name:
            found.append(Candidate(" ".join(w for _, w in name), name[0][0] + 1))
    return found


class TextSource:
    format = "text"

    def __init__(self, path: str) -> None:
        self._file = TextFile(path)
        self.mapping = {"encoding": self._file.encoding}

    def bytes_read(self) -> int:
        return self._file.bytes_read()

    def records(self) -> Iterator[Record]:
        found = 0
        try:
            for number, line in enumerate(self._file.text, 1):
                if line.strip():
                    found += 1
                    yield Record(line=number, addresses=candidates(line.rstrip("\r\n")), raw=line.strip())
        finally:
            self._file.close()
        if not found:
            raise ImportFailed(_("the file has no addresses"))

"""Open an upload as streamed text, refusing empty and binary files with a clear message."""

import codecs
import io
from pathlib import Path

from app.audience.sources.base import ImportFailed
from app.audience.sources.encoding import FALLBACK_ERRORS, binary_kind, detect_encoding
from app.i18n import gettext as _

SAMPLE_BYTES = 64 * 1024


class TextFile:
    def __init__(self, path: str | Path) -> None:
        self._bin = open(path, "rb")  # noqa: SIM115 - closed by close(); the stream outlives this call
        try:
            head = self._bin.read(SAMPLE_BYTES)
            if not head:
                raise ImportFailed(_("the file is empty"))
            self.encoding = detect_encoding(head)
            self.sample = codecs.getincrementaldecoder(self.encoding)(errors=FALLBACK_ERRORS).decode(head)
            kind = binary_kind(head, self.sample)
            if kind:
                raise ImportFailed(_("this is not a text file: it looks like %(kind)s", kind=kind))
            if not self.sample.strip():
                raise ImportFailed(_("the file is empty (only blank space)"))
            self._bin.seek(0)
            self.text = io.TextIOWrapper(self._bin, encoding=self.encoding, errors=FALLBACK_ERRORS, newline="")
        except BaseException:
            self._bin.close()
            raise

    def bytes_read(self) -> int:
        return self._bin.tell()

    def close(self) -> None:
        self._bin.close()

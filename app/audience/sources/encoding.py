"""Character encoding of an uploaded text file: BOMs first, then UTF-16 without BOM, then UTF-8,
else Windows-1252. Bytes that are not valid UTF-8 inside a UTF-8 file (a pasted-together export)
are read as Windows-1252 rather than dropped, so names come through instead of U+FFFD."""

import codecs

from app.i18n import N_
from app.i18n import gettext as _

_CP1252_UNDEFINED = {0x81, 0x8D, 0x8F, 0x90, 0x9D}
FALLBACK_ERRORS = "bulkmail-cp1252"

# magic numbers of files people upload by mistake -> what to tell them
_MAGIC = {
    b"PK\x03\x04": N_("a ZIP archive or an Excel workbook (.xlsx); save the sheet as CSV first"),
    b"\xd0\xcf\x11\xe0": N_("an old Excel or Word file (.xls/.doc); save the sheet as CSV first"),
    b"%PDF": N_("a PDF document"),
    b"\x89PNG": N_("a PNG image"),
    b"\xff\xd8\xff": N_("a JPEG image"),
    b"GIF8": N_("a GIF image"),
    b"\x1f\x8b": N_("a gzip archive; unpack it first"),
}


def _cp1252_fallback(err: UnicodeError) -> tuple[str, int]:
    if not isinstance(err, UnicodeDecodeError):  # registered for decoding; anything else is not ours to fix
        raise err
    bad = err.object[err.start : err.end]
    return "".join(chr(b) if b in _CP1252_UNDEFINED else bytes([b]).decode("cp1252") for b in bad), err.end


codecs.register_error(FALLBACK_ERRORS, _cp1252_fallback)


def detect_encoding(head: bytes) -> str:
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    sample = head[: len(head) - len(head) % 2]
    if len(sample) >= 4:
        odd_nuls, even_nuls = sample[1::2].count(0), sample[0::2].count(0)
        if odd_nuls > len(sample) // 4 and even_nuls == 0:
            return "utf-16-le"
        if even_nuls > len(sample) // 4 and odd_nuls == 0:
            return "utf-16-be"
    text = codecs.getincrementaldecoder("utf-8")(errors="replace").decode(head, final=False)
    invalid = text.count("\ufffd")
    valid = sum(1 for ch in text if ch > "\x7f") - invalid
    # a UTF-8 file with a few stray Windows-1252 bytes stays UTF-8 (the error handler reads those)
    return "utf-8" if invalid == 0 or valid >= invalid else "cp1252"


def binary_kind(head: bytes, text: str) -> str | None:
    """What the file looks like when it is not text, else None."""
    for magic, what in _MAGIC.items():
        if head.startswith(magic):
            return _(what)
    if not text:
        return None
    controls = sum(1 for ch in text if (ch < " " and ch not in "\t\r\n\f") or ch == "\ufffd")
    if "\x00" in text or controls > max(2, len(text) // 100):
        return _("binary data")
    return None

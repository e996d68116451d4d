"""Receive a multipart upload straight to disk, refusing it (413) the moment it passes the size
limit, so a 2 GB upload never fills the disk or memory. The form's other fields are small text."""

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from python_multipart.multipart import MultipartParser, parse_options_header

if TYPE_CHECKING:  # a TypedDict python-multipart declares for type checkers only
    from python_multipart.multipart import MultipartCallbacks

MAX_FIELD_BYTES = 64 * 1024
# multipart framing and the small form fields ride on top of the file itself
FORM_OVERHEAD = 64 * 1024


class UploadTooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"file: the upload is larger than the limit of {limit} bytes")


class BadUpload(ValueError):
    """The request is not a usable multipart upload; the message names the field."""


@dataclass
class Upload:
    path: Path | None = None
    filename: str = ""
    size: int = 0
    fields: dict[str, str] = field(default_factory=dict)


class _Receiver:
    def __init__(self, directory: Path, file_field: str) -> None:
        self.directory = directory
        self.file_field = file_field
        self.upload = Upload()
        self._headers: dict[str, str] = {}
        self._header_field = b""
        self._header_value = b""
        self._name = ""
        self._out: BinaryIO | None = None
        self._buf = bytearray()

    def callbacks(self) -> "MultipartCallbacks":
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": lambda d, s, e: setattr(self, "_header_field", self._header_field + d[s:e]),
            "on_header_value": lambda d, s, e: setattr(self, "_header_value", self._header_value + d[s:e]),
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._data,
            "on_part_end": self._part_end,
        }

    def _part_begin(self) -> None:
        self._headers, self._name, self._buf = {}, "", bytearray()

    def _header_end(self) -> None:
        self._headers[self._header_field.decode("latin-1").lower()] = self._header_value.decode("utf-8", "replace")
        self._header_field, self._header_value = b"", b""

    def _headers_finished(self) -> None:
        _, params = parse_options_header(self._headers.get("content-disposition", ""))
        self._name = params.get(b"name", b"").decode("utf-8", "replace")
        if self._name == self.file_field and b"filename" in params:
            if self.upload.path is not None:
                raise BadUpload(f"{self.file_field}: send one file per import")
            self.directory.mkdir(parents=True, exist_ok=True)
            self.upload.filename = Path(params[b"filename"].decode("utf-8", "replace")).name or "upload"
            self.upload.path = self.directory / f"{uuid.uuid4().hex}-upload"
            self._out = open(self.upload.path, "wb")  # noqa: SIM115 - closed at the part's end

    def _data(self, data: bytes, start: int, end: int) -> None:
        if self._out is not None:
            self._out.write(data[start:end])
            self.upload.size += end - start
            return
        if len(self._buf) + end - start > MAX_FIELD_BYTES:
            raise BadUpload(f"{self._name}: field longer than {MAX_FIELD_BYTES} bytes")
        self._buf += data[start:end]

    def _part_end(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None
        elif self._name:
            self.upload.fields[self._name] = self._buf.decode("utf-8", "replace")

    def abort(self) -> None:
        if self._out is not None:
            self._out.close()
        if self.upload.path is not None:
            self.upload.path.unlink(missing_ok=True)


async def receive_upload(
    content_type: str, stream: AsyncIterator[bytes], directory: Path, limit: int, file_field: str = "file"
) -> Upload:
    """Stream a multipart/form-data body to `directory`. Raises UploadTooLarge or BadUpload
    (and leaves nothing behind) when the body is too big or malformed."""
    ctype, params = parse_options_header(content_type)
    if ctype != b"multipart/form-data" or b"boundary" not in params:
        raise BadUpload(f"{file_field}: send the file as multipart/form-data")
    receiver = _Receiver(directory, file_field)
    parser = MultipartParser(params[b"boundary"], receiver.callbacks())
    received = 0
    try:
        async for chunk in stream:
            received += len(chunk)
            if received > limit + FORM_OVERHEAD or receiver.upload.size > limit:
                raise UploadTooLarge(limit)
            parser.write(chunk)
        parser.finalize()
        if receiver.upload.size > limit:
            raise UploadTooLarge(limit)
    except (UploadTooLarge, BadUpload):
        receiver.abort()
        raise
    except Exception as exc:  # python-multipart raises its own errors on a broken body
        receiver.abort()
        raise BadUpload(f"{file_field}: the multipart body could not be read ({exc})") from None
    if receiver.upload.path is None:
        raise BadUpload(f"{file_field}: no file in the upload")
    return receiver.upload

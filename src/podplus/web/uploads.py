"""Streaming multipart uploads straight to a temporary file, with a hard size limit.

Starlette's ``request.form()`` would spool the whole body before we could look at its
size; this reads the stream chunk by chunk, so a 500 MB upload costs a buffer's worth
of memory and a refused one stops at the limit, not at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from podplus.errors import BadRequest, PayloadTooLarge

WRITE_BUFFER_BYTES = 1024 * 1024
MAX_FIELD_BYTES = 4096
# Room for the multipart framing and the small fields around the file itself.
ENVELOPE_BYTES = 64 * 1024


@dataclass
class ReceivedUpload:
    path: Path
    filename: str
    size_bytes: int
    fields: dict[str, str]


@dataclass
class _Part:
    name: str = ""
    filename: str | None = None
    header_field: bytearray = field(default_factory=bytearray)
    header_value: bytearray = field(default_factory=bytearray)
    value: bytearray = field(default_factory=bytearray)


class _Receiver:
    """Collects parser callbacks; the async side drains ``pending`` to disk between chunks."""

    def __init__(self, file_field: str, max_bytes: int) -> None:
        self.file_field = file_field
        self.max_bytes = max_bytes
        self.part = _Part()
        self.fields: dict[str, str] = {}
        self.filename: str | None = None
        self.seen_file = False
        self.size_bytes = 0
        self.pending = bytearray()

    def callbacks(self) -> dict[str, object]:
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": self._header_field,
            "on_header_value": self._header_value,
            "on_header_end": self._header_end,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
        }

    def _part_begin(self) -> None:
        self.part = _Part()

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self.part.header_field += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self.part.header_value += data[start:end]

    def _header_end(self) -> None:
        name = bytes(self.part.header_field).decode("latin-1").lower()
        if name == "content-disposition":
            _, options = parse_options_header(bytes(self.part.header_value))
            self.part.name = options.get(b"name", b"").decode("utf-8", "replace")
            filename = options.get(b"filename")
            if filename is not None:
                self.part.filename = filename.decode("utf-8", "replace")
        self.part.header_field.clear()
        self.part.header_value.clear()

    def _is_file_part(self) -> bool:
        return self.part.name == self.file_field and self.part.filename is not None

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._is_file_part():
            if self.seen_file:
                raise BadRequest(f"Send one {self.file_field!r} part, not several.")
            self.size_bytes += end - start
            if self.size_bytes > self.max_bytes:
                raise PayloadTooLarge(_too_large(self.max_bytes))
            self.pending += data[start:end]
        else:
            self.part.value += data[start:end]
            if len(self.part.value) > MAX_FIELD_BYTES:
                raise BadRequest(f"The form field {self.part.name!r} is too long.")

    def _part_end(self) -> None:
        if self._is_file_part():
            self.seen_file = True
            self.filename = self.part.filename
        elif self.part.name:
            self.fields[self.part.name] = self.part.value.decode("utf-8", "replace")


def _too_large(max_bytes: int) -> str:
    return f"The file is larger than the {max_bytes // (1024 * 1024)} MB limit."


async def receive_upload(
    request: Request, *, destination: Path, max_bytes: int, file_field: str = "file"
) -> ReceivedUpload:
    """Stream the multipart body's ``file_field`` into ``destination``.

    On any failure (too large, malformed, client gone) the partial file is removed
    before the error propagates: a refused upload leaves nothing behind.
    """
    content_type, options = parse_options_header(request.headers.get("content-type"))
    boundary = options.get(b"boundary")
    if content_type != b"multipart/form-data" or not boundary:
        raise BadRequest(f"Send the file as multipart/form-data with a {file_field!r} field.")
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes + ENVELOPE_BYTES:
        raise PayloadTooLarge(_too_large(max_bytes))

    receiver = _Receiver(file_field, max_bytes)
    parser = MultipartParser(boundary, receiver.callbacks())  # type: ignore[arg-type]
    handle: BinaryIO = await asyncio.to_thread(destination.open, "xb")
    try:
        async for chunk in request.stream():
            parser.write(chunk)
            if len(receiver.pending) >= WRITE_BUFFER_BYTES:
                await _flush(handle, receiver.pending)
        parser.finalize()
        await _flush(handle, receiver.pending)
        await asyncio.to_thread(handle.close)
        if not receiver.seen_file:
            raise BadRequest(f"The form has no {file_field!r} file part.")
        return ReceivedUpload(
            path=destination,
            filename=receiver.filename or "upload",
            size_bytes=receiver.size_bytes,
            fields=receiver.fields,
        )
    except MultipartParseError as exc:
        _discard(handle, destination)
        raise BadRequest(f"The multipart body is malformed: {exc}") from exc
    except BaseException:  # ClientDisconnect and cancellation included
        _discard(handle, destination)
        raise


async def _flush(handle: BinaryIO, pending: bytearray) -> None:
    if pending:
        data = bytes(pending)
        pending.clear()
        await asyncio.to_thread(handle.write, data)


def _discard(handle: BinaryIO, path: Path) -> None:
    with contextlib.suppress(OSError):
        handle.close()
    path.unlink(missing_ok=True)

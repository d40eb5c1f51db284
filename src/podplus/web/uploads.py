"""Streaming multipart uploads straight to a temporary file, with hard limits.

Starlette's ``request.form()`` would spool the whole body before we could look at it;
this reads the stream chunk by chunk, so a 500 MB upload costs a buffer's worth of
memory and a refused one stops at the limit, not at the end. Only what the endpoint
takes is held: the parts it names (each at most once), their headers up to
``MAX_PART_HEADER_BYTES``, a field up to ``MAX_FIELD_BYTES``. Anything else is refused
as soon as its headers have been read, before its content is.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, TypeVar

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect, Request

from podplus.engine.spec import LINE_PATTERN
from podplus.errors import BadRequest, ClientGone, InvalidInput, PayloadTooLarge, PodplusError

logger = logging.getLogger(__name__)

T = TypeVar("T")

WRITE_BUFFER_BYTES = 1024 * 1024
# A form field here is a word (``kind=music``); a kilobyte is generous.
MAX_FIELD_BYTES = 1024
# A part's headers: Content-Disposition with a file name, a Content-Type.
MAX_PART_HEADER_BYTES = 8 * 1024
# Room for the multipart framing and the small fields around the file itself.
ENVELOPE_BYTES = 64 * 1024
# What a file system holds in one name; a longer one was not a real file's name.
MAX_FILENAME_CHARS = 255


@dataclass
class ReceivedUpload:
    path: Path
    filename: str  # the display name: no folders, no control characters
    size_bytes: int
    fields: dict[str, str]


@dataclass
class _Part:
    name: str = ""
    filename: str | None = None
    header_bytes: int = 0
    header_field: bytearray = field(default_factory=bytearray)
    header_value: bytearray = field(default_factory=bytearray)
    value: bytearray = field(default_factory=bytearray)


def display_name(raw: str, *, field_name: str = "file") -> str:
    """The client's file name as we keep it to show back: its last path component.

    It becomes a chapter title, so it follows the spec's rule for a line of text; NUL
    and other control characters are refused, not cleaned up.

    >>> display_name("../../etc/passwd.wav"), display_name("")
    ('passwd.wav', 'upload')
    """
    if raw.strip() and not re.fullmatch(LINE_PATTERN, raw):
        raise InvalidInput(
            f"{field_name}: the file name must be one line without control characters.",
            field=field_name,
        )
    name = raw.replace("\\", "/").rsplit("/", 1)[-1].strip()
    if len(name) > MAX_FILENAME_CHARS:
        raise InvalidInput(
            f"{field_name}: the file name is over {MAX_FILENAME_CHARS} characters.",
            field=field_name,
        )
    return name or "upload"


class _Receiver:
    """Collects parser callbacks; the async side drains ``pending`` to disk between chunks."""

    def __init__(
        self,
        *,
        file_field: str,
        fields: frozenset[str],
        max_bytes: int,
        too_large: Callable[[], PodplusError],
    ) -> None:
        self.file_field = file_field
        self.allowed = fields
        self.max_bytes = max_bytes
        self.too_large = too_large
        self.part = _Part()
        self.parts = 0
        self.seen: set[str] = set()
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
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
        }

    def _names(self) -> str:
        return ", ".join(sorted(self.allowed))

    def _part_begin(self) -> None:
        self.parts += 1
        if self.parts > len(self.allowed):
            raise PayloadTooLarge(
                f"The form has more than {len(self.allowed)} parts; it takes {self._names()}."
            )
        self.part = _Part()

    def _count_header(self, size: int) -> None:
        self.part.header_bytes += size
        if self.part.header_bytes > MAX_PART_HEADER_BYTES:
            raise PayloadTooLarge(
                f"A form part's headers are over {MAX_PART_HEADER_BYTES // 1024} KiB."
            )

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._count_header(end - start)
        self.part.header_field += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._count_header(end - start)
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

    def _headers_finished(self) -> None:
        # Judged before any of the part's content is read.
        name = self.part.name
        if name not in self.allowed:
            shown = repr(name[:40]) if name else "A part with no name"
            raise InvalidInput(
                f"{shown}: not a field of this form; it takes {self._names()}.",
                field=name or None,
            )
        if name in self.seen:
            raise InvalidInput(f"{name}: sent more than once.", field=name)
        self.seen.add(name)
        if name == self.file_field:
            self.filename = display_name(self.part.filename or "", field_name=name)

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self.part.name == self.file_field:
            self.size_bytes += end - start
            if self.size_bytes > self.max_bytes:
                raise self.too_large()
            self.pending += data[start:end]
        else:
            self.part.value += data[start:end]
            if len(self.part.value) > MAX_FIELD_BYTES:
                raise PayloadTooLarge(
                    f"{self.part.name}: a form field may hold {MAX_FIELD_BYTES} bytes at most."
                )

    def _part_end(self) -> None:
        if self.part.name == self.file_field:
            self.seen_file = True
        else:
            self.fields[self.part.name] = self.part.value.decode("utf-8", "replace")


def file_too_large(max_bytes: int) -> PodplusError:
    """The refusal of a file over ``max_bytes``."""
    return PayloadTooLarge(f"The file is larger than the {max_bytes // (1024 * 1024)} MB limit.")


async def receive_upload(
    request: Request,
    *,
    destination: Path,
    max_bytes: int,
    fields: Collection[str],
    file_field: str = "file",
    too_large: Callable[[], PodplusError] | None = None,
) -> ReceivedUpload:
    """Stream the multipart body's ``file_field`` into ``destination``.

    ``fields`` names every part the form may have (``file_field`` among them), each at
    most once; ``too_large`` makes the error for a file over ``max_bytes`` (by default,
    a ``PayloadTooLarge`` naming the limit). On any failure (too large, malformed,
    unknown part, client gone) the partial file is removed before the error propagates:
    a refused upload leaves nothing behind.
    """
    allowed = frozenset(fields) | {file_field}
    refuse_size = too_large or (lambda: file_too_large(max_bytes))
    content_type, options = parse_options_header(request.headers.get("content-type"))
    boundary = options.get(b"boundary")
    if content_type != b"multipart/form-data" or not boundary:
        raise BadRequest(f"Send the file as multipart/form-data with a {file_field!r} field.")
    # The body may hold the file, the other fields and the framing; nothing more.
    max_body_bytes = max_bytes + ENVELOPE_BYTES
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_body_bytes:
        raise refuse_size()

    receiver = _Receiver(
        file_field=file_field, fields=allowed, max_bytes=max_bytes, too_large=refuse_size
    )
    parser = MultipartParser(boundary, receiver.callbacks())  # type: ignore[arg-type]
    handle: BinaryIO = await asyncio.to_thread(destination.open, "xb")
    received = 0
    try:
        async for chunk in request.stream():
            received += len(chunk)
            if received > max_body_bytes:
                # A flood around the parts (preamble, epilogue) rather than in them.
                raise refuse_size()
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
    except ClientDisconnect:
        _discard(handle, destination)
        logger.info("event=upload.abandoned received_bytes=%d", received)
        raise ClientGone() from None
    except BaseException:  # refusals and cancellation included
        _discard(handle, destination)
        raise


async def while_connected(request: Request, work: Awaitable[T]) -> T:
    """Await ``work`` unless the client hangs up first; then cancel it and raise
    ``ClientGone``. Cancelling runs its ``finally`` blocks, which kill what it started.

    Call it once the body has been read: from then on the server's next message is
    ``http.disconnect``, sent when the client goes (or once the answer is sent).
    """
    task = asyncio.ensure_future(work)
    watch = asyncio.ensure_future(_disconnected(request))
    try:
        await asyncio.wait({task, watch}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        # Also when this request is itself cancelled: the work is stopped and awaited
        # before we return, so nothing it started outlives the request.
        watch.cancel()
        if not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    if task.cancelled():
        logger.info("event=request.client_gone path=%s", request.url.path)
        raise ClientGone()
    return task.result()


async def _disconnected(request: Request) -> None:
    while (await request.receive())["type"] != "http.disconnect":
        pass


async def _flush(handle: BinaryIO, pending: bytearray) -> None:
    if pending:
        data = bytes(pending)
        pending.clear()
        await asyncio.to_thread(handle.write, data)


def _discard(handle: BinaryIO, path: Path) -> None:
    with contextlib.suppress(OSError):
        handle.close()
    path.unlink(missing_ok=True)

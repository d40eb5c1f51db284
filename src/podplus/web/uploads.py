"""Streaming multipart forms straight to temporary files, with hard limits.

Starlette's ``request.form()`` would spool the whole body before we could look at it;
this reads the stream chunk by chunk, so a 500 MB upload costs a buffer's worth of
memory and a refused one stops at the limit, not at the end. Only what the endpoint
takes is held: the parts its ``FormShape`` names (a file part up to its count, a field
once), their headers up to ``MAX_PART_HEADER_BYTES``, a field up to its size. Anything
else is refused as soon as its headers have been read, before its content is.

``receive_form`` takes any number of file parts (``POST /api/productions``: ``files``
repeated, ``intro``…); ``receive_upload`` is the common case of one ``file`` part.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Awaitable, Callable, Collection, Mapping
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

# Makes the refusal of a file part past a size limit: (the part, e.g. ``files[1]``, or
# None for a body declared too large as a whole; the bytes of that part received so far).
TooLarge = Callable[[str | None, int], PodplusError]


@dataclass(frozen=True)
class FormShape:
    """The parts a form takes: file parts, each up to ``files[name]`` times, and text
    fields, each once and up to ``fields[name]`` bytes."""

    files: Mapping[str, int]
    fields: Mapping[str, int] = field(default_factory=dict)

    @property
    def max_parts(self) -> int:
        return sum(self.files.values()) + len(self.fields)

    @property
    def names(self) -> str:
        return ", ".join(sorted({*self.files, *self.fields}))

    def part_label(self, name: str, index: int) -> str:
        """How a refusal names a file part: ``file``, or ``files[1]`` for a repeated one."""
        return name if self.files[name] == 1 else f"{name}[{index}]"


@dataclass
class ReceivedFile:
    """One file part, streamed to ``path``."""

    part: str  # how a refusal names it: ``file``, ``intro``, ``files[1]``
    name: str  # the form field it came as
    path: Path
    filename: str  # the display name: no folders, no control characters
    size_bytes: int = 0


@dataclass
class ReceivedForm:
    files: list[ReceivedFile]
    fields: dict[str, str]

    def named(self, name: str) -> list[ReceivedFile]:
        """The file parts that came as ``name``, in the order they were sent."""
        return [item for item in self.files if item.name == name]


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
    file: ReceivedFile | None = None


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
        shape: FormShape,
        new_path: Callable[[], Path],
        max_file_bytes: int,
        max_total_bytes: int,
        too_large: TooLarge,
    ) -> None:
        self.shape = shape
        self.new_path = new_path
        self.max_file_bytes = max_file_bytes
        self.max_total_bytes = max_total_bytes
        self.too_large = too_large
        self.part = _Part()
        self.parts = 0
        self.seen: set[str] = set()
        self.fields: dict[str, str] = {}
        self.files: list[ReceivedFile] = []
        self.total_bytes = 0
        # File content not yet on disk: (index into ``files``, bytes), in arrival order.
        self.pending: list[tuple[int, bytearray]] = []
        self.pending_bytes = 0

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

    def take_pending(self) -> list[tuple[int, bytearray]]:
        pending, self.pending, self.pending_bytes = self.pending, [], 0
        return pending

    def _part_begin(self) -> None:
        self.parts += 1
        if self.parts > self.shape.max_parts:
            raise PayloadTooLarge(
                f"The form has more than {self.shape.max_parts} parts; it takes {self.shape.names}."
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
        if name not in self.shape.files and name not in self.shape.fields:
            shown = repr(name[:40]) if name else "A part with no name"
            raise InvalidInput(
                f"{shown}: not a field of this form; it takes {self.shape.names}.",
                field=name or None,
            )
        if name in self.shape.fields or self.shape.files[name] == 1:
            if name in self.seen:
                raise InvalidInput(f"{name}: sent more than once.", field=name)
            self.seen.add(name)
        if name in self.shape.files:
            index = sum(1 for item in self.files if item.name == name)
            if index >= self.shape.files[name]:
                raise InvalidInput(
                    f"{name}: the form takes at most {self.shape.files[name]} of these.",
                    field=name,
                )
            label = self.shape.part_label(name, index)
            received = ReceivedFile(
                part=label,
                name=name,
                path=self.new_path(),
                filename=display_name(self.part.filename or "", field_name=label),
            )
            self.files.append(received)
            self.part.file = received

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        received = self.part.file
        if received is not None:
            size = end - start
            received.size_bytes += size
            self.total_bytes += size
            if received.size_bytes > self.max_file_bytes or self.total_bytes > self.max_total_bytes:
                raise self.too_large(received.part, received.size_bytes)
            index = len(self.files) - 1
            if self.pending and self.pending[-1][0] == index:
                self.pending[-1][1].extend(data[start:end])
            else:
                self.pending.append((index, bytearray(data[start:end])))
            self.pending_bytes += size
        else:
            self.part.value += data[start:end]
            limit = self.shape.fields[self.part.name]
            if len(self.part.value) > limit:
                raise PayloadTooLarge(
                    f"{self.part.name}: a form field may hold {limit} bytes at most."
                )

    def _part_end(self) -> None:
        if self.part.file is None:
            self.fields[self.part.name] = self.part.value.decode("utf-8", "replace")


def file_too_large(max_bytes: int) -> PodplusError:
    """The refusal of a file over ``max_bytes``."""
    return PayloadTooLarge(f"The file is larger than the {max_bytes // (1024 * 1024)} MB limit.")


class _Files:
    """The received files' handles, opened as their first bytes arrive, off the loop."""

    def __init__(self, files: list[ReceivedFile]) -> None:
        self._files = files
        self._handles: dict[int, BinaryIO] = {}

    async def write(self, pending: list[tuple[int, bytearray]]) -> None:
        for index, data in pending:
            handle = self._handles.get(index)
            if handle is None:
                handle = await asyncio.to_thread(self._files[index].path.open, "xb")
                self._handles[index] = handle
            await asyncio.to_thread(handle.write, bytes(data))

    async def close(self) -> None:
        """Close every handle; a file part that carried no bytes becomes an empty file."""
        for index, received in enumerate(self._files):
            handle = self._handles.pop(index, None)
            if handle is None:
                handle = await asyncio.to_thread(received.path.open, "xb")
            await asyncio.to_thread(handle.close)

    def discard(self) -> None:
        for handle in self._handles.values():
            with contextlib.suppress(OSError):
                handle.close()
        self._handles.clear()
        for received in self._files:
            received.path.unlink(missing_ok=True)


async def receive_form(
    request: Request,
    *,
    shape: FormShape,
    new_path: Callable[[], Path],
    max_file_bytes: int,
    max_total_bytes: int | None = None,
    too_large: TooLarge | None = None,
) -> ReceivedForm:
    """Stream the multipart body's file parts each to a path from ``new_path``.

    A file part may hold ``max_file_bytes`` and all of them together ``max_total_bytes``;
    ``too_large`` makes the refusal when one passes (by default, a ``PayloadTooLarge``
    naming ``max_file_bytes``). On any failure (too large, malformed, unknown part, client
    gone) every file written so far is removed before the error propagates: a refused
    form leaves nothing behind. The caller removes the files of a received one.
    """
    total_limit = (
        max_file_bytes * sum(shape.files.values()) if max_total_bytes is None else max_total_bytes
    )
    refuse_size = too_large or (lambda part, size_bytes: file_too_large(max_file_bytes))
    content_type, options = parse_options_header(request.headers.get("content-type"))
    boundary = options.get(b"boundary")
    if content_type != b"multipart/form-data" or not boundary:
        wanted = " and ".join(repr(name) for name in shape.files)
        raise BadRequest(f"Send the file as multipart/form-data with a {wanted} field.")
    # The body may hold the files, the other fields and the framing; nothing more.
    max_body_bytes = total_limit + ENVELOPE_BYTES + sum(shape.fields.values())
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_body_bytes:
        raise refuse_size(None, int(declared))

    receiver = _Receiver(
        shape=shape,
        new_path=new_path,
        max_file_bytes=max_file_bytes,
        max_total_bytes=total_limit,
        too_large=refuse_size,
    )
    parser = MultipartParser(boundary, receiver.callbacks())  # type: ignore[arg-type]
    files = _Files(receiver.files)
    received = 0
    try:
        async for chunk in request.stream():
            received += len(chunk)
            if received > max_body_bytes:
                # A flood around the parts (preamble, epilogue) rather than in them.
                raise refuse_size(None, received)
            parser.write(chunk)
            if receiver.pending_bytes >= WRITE_BUFFER_BYTES:
                await files.write(receiver.take_pending())
        parser.finalize()
        await files.write(receiver.take_pending())
        await files.close()
        return ReceivedForm(files=receiver.files, fields=receiver.fields)
    except MultipartParseError as exc:
        files.discard()
        raise BadRequest(f"The multipart body is malformed: {exc}") from exc
    except ClientDisconnect:
        files.discard()
        logger.info("event=upload.abandoned received_bytes=%d", received)
        raise ClientGone() from None
    except BaseException:  # refusals and cancellation included
        files.discard()
        raise


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
    shape = FormShape(
        files={file_field: 1},
        fields={name: MAX_FIELD_BYTES for name in fields if name != file_field},
    )
    refuse = too_large or (lambda: file_too_large(max_bytes))
    form = await receive_form(
        request,
        shape=shape,
        new_path=lambda: destination,
        max_file_bytes=max_bytes,
        too_large=lambda part, size_bytes: refuse(),
    )
    if not form.files:
        raise BadRequest(f"The form has no {file_field!r} file part.")
    (upload,) = form.files
    return ReceivedUpload(
        path=upload.path,
        filename=upload.filename,
        size_bytes=upload.size_bytes,
        fields=form.fields,
    )


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

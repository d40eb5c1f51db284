"""Serving an audio file the way players and podcast apps read it: whole, or one byte range.

Starlette's ``FileResponse`` answers ranges itself, but refuses a bad ``Range`` header in
plain text and answers several ranges as ``multipart/byteranges``, which no player asks for.
Here the header is read first: one satisfiable range goes to ``FileResponse`` (a 206);
a range past the end is a JSON 416; anything else is ignored, as RFC 9110 allows, and the
whole file is sent.

The file is opened while the request is handled, not when the answer is sent: a file
removed in between (an episode unpublished, re-assembled) is still sent whole from the
open file, and one already gone is a 404, never a 500 half-way through an answer.

An object in an S3 store (``object_response``) is served the same way: its size asked
first, the range read from the store with the first bytes in hand before the answer
starts (a missing object is a 404, a store that does not answer a 503), then streamed.
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from email.utils import formatdate
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO
from urllib.parse import quote

import anyio
from starlette.responses import FileResponse, Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from podplus.errors import NotFound, ObjectMissing, RangeNotSatisfiable
from podplus.storage.objects import ObjectStore

AUDIO_TYPES = {
    ".mp3": "audio/mpeg",
    ".m4a": "audio/mp4",
    ".wav": "audio/wav",
    ".flac": "audio/flac",
}
_SINGLE_RANGE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", re.IGNORECASE)


def requested_range(header: str | None, size_bytes: int) -> tuple[int, int] | None:
    """The one byte range (first, last inclusive) a ``Range`` header asks for, or None to
    send the whole file. Raises ``RangeNotSatisfiable`` for a range past the end."""
    if not header:
        return None
    match = _SINGLE_RANGE.match(header)
    if match is None:
        return None  # another unit, several ranges, or nonsense
    first_text, last_text = match.groups()
    if not first_text and not last_text:
        return None
    if not first_text:  # the last N bytes
        suffix = int(last_text)
        if suffix == 0 or size_bytes == 0:
            raise RangeNotSatisfiable(
                f"The file has {size_bytes} bytes; no range of it is empty.", size_bytes=size_bytes
            )
        return max(0, size_bytes - suffix), size_bytes - 1
    first = int(first_text)
    if last_text and int(last_text) < first:
        return None  # not a valid range: ignored
    if first >= size_bytes:
        raise RangeNotSatisfiable(
            f"The file has {size_bytes} bytes; the range starts past its end.",
            size_bytes=size_bytes,
        )
    last = int(last_text) if last_text else size_bytes - 1
    return first, min(last, size_bytes - 1)


def audio_response(path: Path, *, filename: str, range_header: str | None) -> FileResponse:
    """The file at ``path``, opened now, for a request that sent ``range_header``;
    ``NotFound`` if there is no such file (any more)."""
    try:
        handle = path.open("rb")
    except (FileNotFoundError, IsADirectoryError):
        raise NotFound("No such file.") from None
    try:
        status = os.fstat(handle.fileno())
        chosen = requested_range(range_header, status.st_size)
    except BaseException:
        handle.close()
        raise
    response_class = _OpenFileResponse if chosen is not None else _WholeFileResponse
    return response_class(
        handle,
        path,
        stat_result=status,
        media_type=AUDIO_TYPES.get(path.suffix, "application/octet-stream"),
        filename=filename,
        content_disposition_type="inline",
    )


async def object_response(
    objects: ObjectStore,
    key: str,
    *,
    filename: str,
    range_header: str | None,
    head_only: bool = False,
) -> Response:
    """The object ``key`` for a request that sent ``range_header``: from the disk as
    ``audio_response`` sends it where the store is local, else streamed from the store
    (``head_only``: the headers alone, and nothing read). ``NotFound`` if there is no such
    object; ``StoreUnavailable`` if the store is down."""
    local = objects.local_path(key)
    if local is not None:
        return audio_response(local, filename=filename, range_header=range_header)
    stored = await objects.stat(key)
    if stored is None:
        raise NotFound("No such file.")
    chosen = requested_range(range_header, stored.size_bytes)
    first, last = chosen or (0, stored.size_bytes - 1)
    headers = {
        "Accept-Ranges": "bytes",
        "Content-Length": str(last - first + 1),
        "Content-Disposition": _disposition(filename),
        "Last-Modified": formatdate(stored.modified_at, usegmt=True),
    }
    if stored.etag:
        headers["ETag"] = f'"{stored.etag}"'
    if chosen is not None:
        headers["Content-Range"] = f"bytes {first}-{last}/{stored.size_bytes}"
    # A HEAD is answered from the stat: no bytes are asked of the store.
    empty = head_only or last < first
    chunks = _empty() if empty else objects.read(key, first=first, last=last)
    try:
        # The first bytes before the answer starts: a failure is still an error answer.
        head = await anext(chunks, b"")
    except ObjectMissing:
        raise NotFound("No such file.") from None
    return _StreamedObject(
        _prepend(head, chunks),
        status_code=206 if chosen is not None else 200,
        headers=headers,
        media_type=AUDIO_TYPES.get(PurePosixPath(key).suffix, "application/octet-stream"),
    )


def _disposition(filename: str) -> str:
    # As Starlette's ``FileResponse`` writes it: RFC 5987 for a name that isn't ASCII.
    quoted = quote(filename)
    if quoted != filename:
        return f"inline; filename*=utf-8''{quoted}"
    return f'inline; filename="{filename}"'


async def _empty() -> AsyncIterator[bytes]:
    return
    yield b""  # pragma: no cover - makes this an async generator


async def _prepend(head: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    if head:
        yield head
    async for chunk in rest:
        yield chunk


class _StreamedObject(StreamingResponse):
    """Streams an object's bytes; headers only for a ``HEAD``."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = self.body_iterator
        if scope.get("method") == "HEAD":
            self.body_iterator = _empty()
        try:
            await super().__call__(scope, receive, send)
        finally:
            if hasattr(body, "aclose"):
                await body.aclose()


class _OpenFileResponse(FileResponse):
    """A ``FileResponse`` that sends a file opened before the answer began (and closes it)."""

    def __init__(self, handle: BinaryIO, path: Path, **options: Any) -> None:
        super().__init__(path, **options)
        self._handle = handle

    @asynccontextmanager
    async def _open_file(self) -> AsyncIterator[anyio.AsyncFile[bytes]]:
        # Where Starlette would open ``self.path`` again, which may be gone by now.
        yield anyio.wrap_file(self._handle)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # No ``pathsend``: the server would open the path itself.
        extensions = dict(scope.get("extensions") or {})
        extensions.pop("http.response.pathsend", None)
        try:
            await super().__call__({**scope, "extensions": extensions}, receive, send)
        finally:
            self._handle.close()


class _WholeFileResponse(_OpenFileResponse):
    """An ``_OpenFileResponse`` that doesn't see the request's ``Range`` header."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(name, value) for name, value in scope["headers"] if name != b"range"]
        await super().__call__({**scope, "headers": headers}, receive, send)

"""Serving an audio file the way players and podcast apps read it: whole, or one byte range.

Starlette's ``FileResponse`` answers ranges itself, but refuses a bad ``Range`` header in
plain text and answers several ranges as ``multipart/byteranges``, which no player asks for.
Here the header is read first: one satisfiable range goes to ``FileResponse`` (a 206);
a range past the end is a JSON 416; anything else is ignored, as RFC 9110 allows, and the
whole file is sent.

The file is opened while the request is handled, not when the answer is sent: a file
removed in between (an episode unpublished, re-assembled) is still sent whole from the
open file, and one already gone is a 404, never a 500 half-way through an answer.
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, BinaryIO

import anyio
from starlette.responses import FileResponse
from starlette.types import Receive, Scope, Send

from podplus.errors import NotFound, RangeNotSatisfiable

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

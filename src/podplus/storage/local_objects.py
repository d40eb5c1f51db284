"""The object store as a local folder: a key is a path under the media root.

The layout is the one podplus has always used (``<storage_name>``, ``episodes/…``,
``public/audio/…``), so an existing media folder is a store as it is. Objects appear by
rename from a temporary file beside them, so a reader sees all of one or none; files are
0600 in 0700 folders, like everything else under the root (``storage.files``).

The file system calls block, so each runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import shutil
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import anyio

from podplus.errors import ObjectMissing
from podplus.ids import new_id
from podplus.storage.files import FILE_MODE, FOLDER_MODE
from podplus.storage.objects import StoredObject, checked_key

_CHUNK_BYTES = 256 * 1024


class LocalObjects:
    """``ObjectStore`` on the folder ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def local_path(self, key: str) -> Path:
        return self.root / checked_key(key)

    async def put_file(self, key: str, source: Path) -> StoredObject:
        final = self.local_path(key)
        return await asyncio.to_thread(self._copy_in, source, final, link=False)

    async def move_file_in(self, key: str, source: Path) -> StoredObject:
        final = self.local_path(key)
        return await asyncio.to_thread(self._move_in, source, final)

    async def fetch(self, key: str, destination: Path) -> StoredObject:
        path = self.local_path(key)

        def fetch() -> StoredObject:
            temporary = destination.with_name(f".{new_id()}.part")
            try:
                shutil.copyfile(path, temporary)
                os.replace(temporary, destination)
            except FileNotFoundError as exc:
                if not path.is_file():
                    raise ObjectMissing("No such object.") from exc
                raise
            finally:
                temporary.unlink(missing_ok=True)
            return _stored(key, destination)

        return await asyncio.to_thread(fetch)

    async def stat(self, key: str) -> StoredObject | None:
        path = self.local_path(key)
        try:
            return await asyncio.to_thread(_stored, key, path)
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None

    async def read(
        self, key: str, *, first: int = 0, last: int | None = None
    ) -> AsyncIterator[bytes]:
        path = self.local_path(key)
        try:
            handle = await anyio.open_file(path, "rb")
        except (FileNotFoundError, IsADirectoryError):
            raise ObjectMissing("No such object.") from None
        async with handle:
            await handle.seek(first)
            remaining = None if last is None else last - first + 1
            while remaining is None or remaining > 0:
                size = _CHUNK_BYTES if remaining is None else min(_CHUNK_BYTES, remaining)
                chunk = await handle.read(size)
                if not chunk:
                    return
                if remaining is not None:
                    remaining -= len(chunk)
                yield chunk

    async def copy(self, source_key: str, key: str) -> StoredObject:
        source = self.local_path(source_key)
        final = self.local_path(key)
        try:
            return await asyncio.to_thread(self._copy_in, source, final, link=True)
        except FileNotFoundError:
            if not source.is_file():
                raise ObjectMissing("No such object.") from None
            raise

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self.local_path(key).unlink, missing_ok=True)

    def _folder_for(self, final: Path) -> None:
        folder = final.parent
        if not folder.is_dir():
            folder.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
            with contextlib.suppress(PermissionError):
                folder.chmod(FOLDER_MODE)

    def _move_in(self, source: Path, final: Path) -> StoredObject:
        self._folder_for(final)
        os.chmod(source, FILE_MODE)
        try:
            os.replace(source, final)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
            # Another file system (an incoming folder on its own mount): copy, then drop.
            stored = self._copy_in(source, final, link=False)
            source.unlink(missing_ok=True)
            return stored
        return _stored(str(final.relative_to(self.root)), final)

    def _copy_in(self, source: Path, final: Path, *, link: bool) -> StoredObject:
        """Place a copy of ``source`` as ``final`` through a temporary file beside it. A
        hard link where ``link`` allows it: instant, and safe since objects are never
        rewritten in place."""
        self._folder_for(final)
        temporary = final.with_name(f".{new_id()}.part")
        try:
            try:
                if not link:
                    raise OSError(errno.EXDEV, "copy asked for")
                os.link(source, temporary)
            except FileNotFoundError:
                raise
            except OSError:
                shutil.copyfile(source, temporary)
                os.chmod(temporary, FILE_MODE)
            os.replace(temporary, final)
        finally:
            temporary.unlink(missing_ok=True)
        return _stored(str(final.relative_to(self.root)), final)


def _stored(key: str, path: Path) -> StoredObject:
    status = path.stat()
    if not stat.S_ISREG(status.st_mode):
        raise IsADirectoryError(str(path))
    return StoredObject(
        key=key,
        size_bytes=status.st_size,
        etag=f"{status.st_size:x}-{status.st_mtime_ns:x}",
        modified_at=status.st_mtime,
    )

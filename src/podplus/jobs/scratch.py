"""A worker's scratch disk: a work folder per job, and a cache of the store's objects.

    <scratch_dir>/work/<job id>/          the engine's manifest, output and temporaries
    <scratch_dir>/cache/<digest>.<ext>    an object as fetched, named by its key and tag
    <scratch_dir>/cache/.incoming/<id>/   a fetch under way

The engine reads local files only. When the store is this machine's media folder an
object's own path is used and nothing is copied. Otherwise an object is fetched once and
reused by every job that wants the same version: objects are never rewritten (a change
is a new key), so key and tag name the content.

The cache is kept under ``cache_bytes`` by removing the least recently used files (use
is marked on the file's mtime), never one a job has pinned. A pin is a shared ``flock``
on the cached file and removal takes an exclusive one, so the rule holds between worker
processes that share a scratch folder too. A fetch writes into a folder of its own under
``.incoming``, locked while it runs, and appears by rename: a crash leaves a leftover
there, never a half file under a cache name, and ``sweep`` removes what no live fetch
holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import logging
import os
import re
import shutil
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from podplus.errors import ObjectMissing
from podplus.ids import new_id
from podplus.storage.objects import ObjectStore, StoredObject

logger = logging.getLogger(__name__)

WORK_DIR = "work"
CACHE_DIR = "cache"
INCOMING_DIR = ".incoming"
FOLDER_MODE = 0o700
FILE_MODE = 0o600
# Objects one job fetches at once: enough to hide a store's latency, not to flood it.
FETCHES_PER_JOB = 4

_SUFFIX = re.compile(r"\.[A-Za-z0-9]{1,10}")


def cache_name(key: str, etag: str) -> str:
    """The cache's file name for version ``etag`` of ``key``: a digest, and the key's
    extension (the engine and ffmpeg see the file as its uploader named its kind)."""
    digest = hashlib.sha256(f"{key}\0{etag}".encode()).hexdigest()[:40]
    suffix = PurePosixPath(key).suffix
    return digest + (suffix.lower() if _SUFFIX.fullmatch(suffix) else "")


@dataclass
class _Fetching:
    """The jobs waiting on one cache entry: the first fetches it, the others then pin it."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0


class Scratch:
    """Work folders and the parts cache under ``root`` (``settings.scratch_dir``)."""

    def __init__(self, root: Path, *, objects: ObjectStore, cache_bytes: int) -> None:
        # Absolute: the engine's command line names its work folder, and the boot sweep
        # recognises this deployment's engines by that prefix.
        self.root = root.absolute()
        self.cache_bytes = cache_bytes
        self._objects = objects
        self._work = self.root / WORK_DIR
        self._cache = self.root / CACHE_DIR
        self._incoming = self._cache / INCOMING_DIR
        for folder in (self.root, self._work, self._cache, self._incoming):
            folder.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
            # Copies of one user's recordings: closed to other accounts whatever the umask,
            # unless the folder isn't ours to change (a mount point).
            with contextlib.suppress(PermissionError):
                folder.chmod(FOLDER_MODE)
        self._fetching: dict[str, _Fetching] = {}
        self._last_use_ns = 0
        # Objects this process fetched from the store (a cache hit fetches nothing).
        self.fetches = 0

    # -- work folders ------------------------------------------------------------------

    def work_dir(self, job_id: str) -> Path:
        return self._work / job_id

    def make_work_dir(self, job_id: str) -> Path:
        """An empty work folder for ``job_id``: whatever an earlier attempt left is removed."""
        self.remove_work_dir(job_id)
        folder = self.work_dir(job_id)
        folder.mkdir(mode=FOLDER_MODE)
        return folder

    def remove_work_dir(self, job_id: str) -> bool:
        """Remove a job's work folder and everything in it (the engine's own temporary
        folders included); False if there was none."""
        try:
            shutil.rmtree(self.work_dir(job_id))
        except FileNotFoundError:
            return False
        return True

    def work_job_ids(self) -> list[str]:
        """The jobs that have a work folder."""
        return sorted(entry.name for entry in self._work.iterdir() if entry.is_dir())

    # -- the parts cache ---------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def local_copy(self, key: str) -> AsyncIterator[Path]:
        """A local file with the object's content, kept while the block runs.

        Raises ``ObjectMissing`` if there is no such object, ``StoreUnavailable`` if the
        store can't be reached; no file is left behind either way.
        """
        async with self.local_copies([key]) as paths:
            yield paths[key]

    @contextlib.asynccontextmanager
    async def local_copies(self, keys: Iterable[str]) -> AsyncIterator[dict[str, Path]]:
        """``local_copy`` of each key (a few fetched at once), by key."""
        wanted = sorted(set(keys))
        pins: list[int] = []
        try:
            slots = asyncio.Semaphore(FETCHES_PER_JOB)
            try:
                async with asyncio.TaskGroup() as group:
                    tasks = [group.create_task(self._local(key, pins, slots)) for key in wanted]
            except BaseExceptionGroup as failed:
                # The first failure is the story; the others were cancelled because of it.
                raise failed.exceptions[0] from None
            yield {key: task.result() for key, task in zip(wanted, tasks, strict=True)}
        finally:
            for pin in pins:
                os.close(pin)
            if pins:
                # Released files may now go, down to the bound.
                await asyncio.to_thread(self.evict, self.cache_bytes)

    def cached_bytes(self) -> int:
        """The size of the files in the cache (fetches under way not counted)."""
        return sum(size for _, _, size in self._entries())

    def sweep(self) -> int:
        """Remove what crashed fetches left, then shrink the cache to its bound (a smaller
        one than last run's, say); returns how many leftovers went. Run at start-up."""
        removed = 0
        for leftover in self._incoming.iterdir():
            if _remove_unless_locked(leftover):
                removed += 1
        self.evict(self.cache_bytes)
        if removed:
            logger.info("event=scratch.swept leftovers=%s", removed)
        return removed

    def evict(self, limit_bytes: int) -> int:
        """Remove the least recently used files no job pins until the cache holds at most
        ``limit_bytes`` (or nothing unpinned is left); returns how many went."""
        entries = sorted(self._entries())
        total = sum(size for _, _, size in entries)
        removed = 0
        for _, path, size in entries:
            if total <= limit_bytes:
                break
            if _remove_unless_pinned(path):
                total -= size
                removed += 1
        return removed

    async def _local(self, key: str, pins: list[int], slots: asyncio.Semaphore) -> Path:
        local = self._objects.local_path(key)
        if local is not None:
            return local
        async with slots:
            found = await self._objects.stat(key)
            if found is None:
                raise ObjectMissing("No such object.")
            path = self._cache / cache_name(key, found.etag)
            waiting = self._fetching.setdefault(path.name, _Fetching())
            waiting.users += 1
            try:
                async with waiting.lock:
                    # Another job may have fetched it while this one waited.
                    pin = self._pin(path)
                    if pin is None:
                        pin = await self._fetch(found, path)
            finally:
                waiting.users -= 1
                if not waiting.users:
                    del self._fetching[path.name]
        pins.append(pin)
        return path

    def _pin(self, path: Path) -> int | None:
        """A shared lock on the cached file at ``path``, its use marked; None if absent."""
        try:
            pin = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            return None
        try:
            # Blocks only while an eviction holds it, between its check and its unlink.
            fcntl.flock(pin, fcntl.LOCK_SH)
            if not _same_file(pin, path):
                os.close(pin)  # evicted before the lock was ours
                return None
            self._mark_used(pin)
        except BaseException:
            os.close(pin)
            raise
        return pin

    async def _fetch(self, found: StoredObject, path: Path) -> int:
        """Fetch ``found`` to ``path``, pinned before it appears; returns the pin."""
        # Room for it first, so the cache passes its bound by no more than what is pinned.
        await asyncio.to_thread(self.evict, self.cache_bytes - found.size_bytes)
        staging, guard = self._staging_folder()
        try:
            staged = staging / path.name
            await self._objects.fetch(found.key, staged)
            pin = os.open(staged, os.O_RDONLY)
            try:
                fcntl.flock(pin, fcntl.LOCK_SH)
                os.chmod(staged, FILE_MODE)
                self._mark_used(pin)
                pin = self._place(staged, path, pin)
            except BaseException:
                os.close(pin)
                raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
            os.close(guard)
        self.fetches += 1
        logger.info(
            "event=scratch.fetched key=%s size_bytes=%s cached_as=%s",
            found.key,
            found.size_bytes,
            path.name,
        )
        return pin

    def _place(self, staged: Path, path: Path, pin: int) -> int:
        """Give the fetched file its cache name; returns the pin to keep. A link, never a
        rename over: a worker sharing the folder may have placed (and pinned) the same
        object meanwhile, and its jobs read that file by name."""
        while True:
            try:
                os.link(staged, path)
                return pin
            except FileExistsError:
                theirs = self._pin(path)
                if theirs is not None:
                    os.close(pin)
                    return theirs
                # Evicted meanwhile: link again. Never a replace, which could take the
                # name from a file another process has placed and pinned since.

    def _staging_folder(self) -> tuple[Path, int]:
        """A new folder under ``.incoming`` and an exclusive lock on it, so a sweep leaves
        it alone (a sweep that got in between creating and locking it: try another)."""
        while True:
            staging = self._incoming / new_id()
            staging.mkdir(mode=FOLDER_MODE)
            guard = os.open(staging, os.O_RDONLY | os.O_DIRECTORY)
            fcntl.flock(guard, fcntl.LOCK_EX)
            if _same_file(guard, staging):
                return staging, guard
            os.close(guard)

    def _mark_used(self, pin: int) -> None:
        # Strictly increasing within the process: the file system's clock is coarser than
        # two cache hits in a row.
        now_ns = max(time.time_ns(), self._last_use_ns + 1)
        self._last_use_ns = now_ns
        os.utime(pin, ns=(now_ns, now_ns))

    def _entries(self) -> list[tuple[int, Path, int]]:
        """(last use, path, size) of each cached file."""
        entries = []
        with os.scandir(self._cache) as listing:
            for entry in listing:
                if entry.name.startswith(".") or not entry.is_file(follow_symlinks=False):
                    continue
                with contextlib.suppress(FileNotFoundError):
                    stat = entry.stat(follow_symlinks=False)
                    entries.append((stat.st_mtime_ns, Path(entry.path), stat.st_size))
        return entries


def _same_file(descriptor: int, path: Path) -> bool:
    """Whether ``path`` still names the file open as ``descriptor``."""
    try:
        named = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return False
    held = os.fstat(descriptor)
    return (held.st_dev, held.st_ino) == (named.st_dev, named.st_ino)


def _remove_unless_pinned(path: Path) -> bool:
    """Remove a cached file unless a job holds it; True if it is gone."""
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return True
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        if not _same_file(descriptor, path):
            return False  # replaced by a fresh copy meanwhile: that one is not ours to judge
        path.unlink()
        return True
    finally:
        os.close(descriptor)


def _remove_unless_locked(folder: Path) -> bool:
    """Remove a fetch's staging folder unless its fetch is still under way."""
    try:
        descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except (FileNotFoundError, NotADirectoryError):
        with contextlib.suppress(FileNotFoundError, IsADirectoryError):
            folder.unlink()  # not a folder of ours: a stray file
        return False
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        shutil.rmtree(folder, ignore_errors=True)
        return True
    finally:
        os.close(descriptor)

"""Where media lives: one interface over a local folder and any S3-compatible object store.

Everything podplus keeps for good is an object under a key: an upload (its
``storage_name``), an episode's audio (``episodes/<audio_name>``), public audio and
artwork (``public/audio/<name>``, ``public/artwork/<name>``). The keys are the paths the
local folder has always used, so a media folder from before this interface is a valid
store as it is.

Objects are written whole or not at all (a local rename, an S3 upload that is visible
only once complete), and never rewritten: a change is a new key. Readers can so cache
by key.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from podplus.settings import Settings

EPISODES_PREFIX = "episodes/"
PUBLIC_AUDIO_PREFIX = "public/audio/"
PUBLIC_ARTWORK_PREFIX = "public/artwork/"


class KeyRefused(ValueError):
    """A key that could name something outside the store: absolute, with ``..`` or ``.``
    parts, empty parts, a backslash or a NUL. Keys are made by podplus from ids, so this
    is a bug, never a client's input."""


def checked_key(key: str) -> str:
    """``key`` itself, if it is a plain relative path (``episodes/e-j.mp3``); else
    ``KeyRefused``."""
    parts = key.split("/")
    if (
        not key
        or "\0" in key
        or "\\" in key
        or PurePosixPath(key).is_absolute()
        or any(part in ("", ".", "..") for part in parts)
    ):
        raise KeyRefused(f"not an object key: {key!r}")
    return key


def episode_key(audio_name: str) -> str:
    return EPISODES_PREFIX + audio_name


def public_audio_key(name: str) -> str:
    return PUBLIC_AUDIO_PREFIX + name


def public_artwork_key(name: str) -> str:
    return PUBLIC_ARTWORK_PREFIX + name


@dataclass(frozen=True)
class StoredObject:
    key: str
    size_bytes: int
    # The store's version tag (an S3 ETag, a local file's size and mtime), for caches.
    etag: str
    modified_at: float


class ObjectStore(Protocol):
    """A place for whole, immutable objects. Every method may raise ``StoreUnavailable``
    (``podplus.errors``) when the store can't be reached in time, and ``KeyRefused`` for
    a key that isn't a plain relative path (``checked_key``).

    Two implementations: ``storage.local_objects.LocalObjects`` (the media folder) and
    ``storage.s3_objects.S3Objects``; ``open_object_store(settings)`` picks one."""

    async def put_file(self, key: str, source: Path) -> StoredObject:
        """Store the local file ``source`` as ``key`` (streamed, never read into memory);
        readers see the old object or all of the new one, never part. ``source`` stays."""
        ...

    async def move_file_in(self, key: str, source: Path) -> StoredObject:
        """``put_file``, then remove ``source``; a rename where the store is local."""
        ...

    async def fetch(self, key: str, destination: Path) -> StoredObject:
        """Write the object to ``destination`` whole (a temporary file renamed into place);
        ``ObjectMissing`` if there is no such object."""
        ...

    async def stat(self, key: str) -> StoredObject | None:
        """The object's size and tag, or None if there is no such object."""
        ...

    def read(self, key: str, *, first: int = 0, last: int | None = None) -> AsyncIterator[bytes]:
        """The object's bytes ``first`` to ``last`` (inclusive; None: to the end; past the
        end: to the end), in chunks; ``ObjectMissing`` at the first if there is none."""
        ...

    async def copy(self, source_key: str, key: str) -> StoredObject:
        """Store a copy of ``source_key`` as ``key`` (inside the store; no bytes pass here)."""
        ...

    async def delete(self, key: str) -> None:
        """Remove the object; no error if it is already gone."""
        ...

    def local_path(self, key: str) -> Path | None:
        """Where the object is on this machine's disk, if the store is a local folder: the
        engine then reads it in place, and responses send it with the kernel's help."""
        ...


def open_object_store(settings: Settings) -> ObjectStore:
    """The store ``settings`` name: an S3 bucket for ``storage_url=s3://bucket/prefix``,
    else the local media folder (as every release before kept it)."""
    if settings.storage_url:
        # Imported here: the S3 client loads only where it is used.
        from podplus.storage.s3_objects import S3Objects

        return S3Objects.from_settings(settings)
    from podplus.storage.local_objects import LocalObjects

    return LocalObjects(settings.media_root)

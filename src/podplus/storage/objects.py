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
from pathlib import Path
from typing import Protocol

EPISODES_PREFIX = "episodes/"
PUBLIC_AUDIO_PREFIX = "public/audio/"
PUBLIC_ARTWORK_PREFIX = "public/artwork/"


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
    (``podplus.errors``) when the store can't be reached in time."""

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
        """The object's bytes ``first`` to ``last`` (inclusive; None: to the end), in chunks."""
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

"""Public objects: episode audio frozen at publication and show artwork, named by content.

A public file's name is ``<stem>-<sha256 prefix><ext>`` (the stem is the episode's GUID or
the show's feed id), so its URL never serves other bytes: a change is a new name. They are
objects in the media store (``storage.objects``) under ``public/``; in a local folder,
0600 in 0700 folders like every other file podplus keeps: podplus serves them.

Which rows name which files, and when a file may go, is ``podplus.storage.publishing``'s.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from pathlib import Path

from podplus.storage.files import FOLDER_MODE
from podplus.storage.local_objects import LocalObjects
from podplus.storage.objects import ObjectStore, public_artwork_key, public_audio_key

PUBLIC_DIR = "public"
# Of a file's SHA-256 in its public name: 96 bits, and names that fit a path segment of
# 64 characters (``<32 hex>-<24 hex>.json``).
DIGEST_CHARS = 24
# A 3000 px PNG photograph is about 20 MB; artwork is never larger than that.
MAX_ARTWORK_BYTES = 20 * 1024 * 1024
_HASH_CHUNK_BYTES = 1024 * 1024


class PublicFiles:
    """The public objects (``public/audio/…``, ``public/artwork/…``) in the media store:
    placed whole (a link or a copy inside the store, or a move in), removed by name."""

    def __init__(self, media_root: Path, objects: ObjectStore | None = None) -> None:
        self.root = media_root / PUBLIC_DIR
        self.objects: ObjectStore = objects or LocalObjects(media_root)
        if self.objects.local_path(public_audio_key("x")) is not None:
            for folder in (self.root, self.root / "audio", self.root / "artwork"):
                folder.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
                with contextlib.suppress(PermissionError):
                    folder.chmod(FOLDER_MODE)

    def audio_path(self, name: str) -> Path:
        """Where public audio is in a local store (a test's view of the folder)."""
        return self.root / "audio" / name

    def artwork_path(self, name: str) -> Path:
        return self.root / "artwork" / name

    def audio_name(self, source: Path, *, stem: str, suffix: str | None = None) -> str:
        """The public name ``source``'s bytes get: ``<stem>-<sha256><suffix>`` (the
        file's own suffix by default). Blocking."""
        return f"{stem}-{file_sha256(source)[:DIGEST_CHARS]}{suffix or source.suffix}"

    async def freeze_audio(self, source_key: str, *, name: str) -> int:
        """Copy the object ``source_key`` (a link in a local store; on the server, in S3)
        to the public audio ``name`` unless it is there already (the same bytes: the name
        says so); returns its size. ``ObjectMissing`` if the source is gone."""
        stored = await self.objects.stat(public_audio_key(name))
        if stored is None:
            stored = await self.objects.copy(source_key, public_audio_key(name))
        return stored.size_bytes

    async def place_artwork(self, temporary: Path, *, stem: str, suffix: str) -> str:
        """Move ``temporary`` in as ``<stem>-<sha256><suffix>``; returns the name."""
        digest = await asyncio.to_thread(file_sha256, temporary)
        name = f"{stem}-{digest[:DIGEST_CHARS]}{suffix}"
        await self.objects.move_file_in(public_artwork_key(name), temporary)
        return name

    async def remove_audio(self, name: str) -> None:
        await self.objects.delete(public_audio_key(name))

    async def remove_artwork(self, name: str) -> None:
        await self.objects.delete(public_artwork_key(name))


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_HASH_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()

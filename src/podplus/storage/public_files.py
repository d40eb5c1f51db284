"""The public folder: episode audio frozen at publication and show artwork, named by content.

A public file's name is ``<stem>-<sha256 prefix><ext>`` (the stem is the episode's GUID or
the show's feed id), so its URL never serves other bytes: a change is a new name. Like
every other file podplus keeps, they are 0600 in 0700 folders: podplus serves them.

Which rows name which files, and when a file may go, is ``podplus.storage.publishing``'s.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
from pathlib import Path

from podplus.ids import new_id
from podplus.storage.files import FILE_MODE, FOLDER_MODE

PUBLIC_DIR = "public"
# Of a file's SHA-256 in its public name: 96 bits, and names that fit a path segment of
# 64 characters (``<32 hex>-<24 hex>.json``).
DIGEST_CHARS = 24
# A 3000 px PNG photograph is about 20 MB; artwork is never larger than that.
MAX_ARTWORK_BYTES = 20 * 1024 * 1024
_HASH_CHUNK_BYTES = 1024 * 1024


class PublicFiles:
    """The public folder's files: placed whole (link, copy-then-rename, or rename), removed
    by name. Blocking: the callers run ``freeze_audio`` in a thread."""

    def __init__(self, media_root: Path) -> None:
        self.root = media_root / PUBLIC_DIR
        for folder in (self.root, self.root / "audio", self.root / "artwork"):
            folder.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
            with contextlib.suppress(PermissionError):
                folder.chmod(FOLDER_MODE)

    def audio_path(self, name: str) -> Path:
        return self.root / "audio" / name

    def artwork_path(self, name: str) -> Path:
        return self.root / "artwork" / name

    def audio_name(self, source: Path, *, stem: str) -> str:
        """The public name ``source``'s bytes get: ``<stem>-<sha256><ext>``."""
        return f"{stem}-{file_sha256(source)[:DIGEST_CHARS]}{source.suffix}"

    def freeze_audio(self, source: Path, *, name: str) -> int:
        """Link (or copy) ``source`` to ``name`` unless it is there already (the same
        bytes: the name says so); returns its size."""
        final = self.audio_path(name)
        if not final.exists():
            self._place(source, final, keep_source=True)
        return final.stat().st_size

    def place_artwork(self, temporary: Path, *, stem: str, suffix: str) -> str:
        """Move ``temporary`` in as ``<stem>-<sha256><suffix>``; returns the name."""
        name = f"{stem}-{file_sha256(temporary)[:DIGEST_CHARS]}{suffix}"
        self._place(temporary, self.artwork_path(name), keep_source=False)
        return name

    def remove_audio(self, name: str) -> None:
        self.audio_path(name).unlink(missing_ok=True)

    def remove_artwork(self, name: str) -> None:
        self.artwork_path(name).unlink(missing_ok=True)

    def _place(self, source: Path, final: Path, *, keep_source: bool) -> None:
        if not keep_source:
            os.chmod(source, FILE_MODE)
            os.replace(source, final)
            return
        try:
            # Instant, and the bytes can't change under it: podplus replaces episode files
            # by rename, never rewrites them.
            os.link(source, final)
        except FileExistsError:
            pass
        except FileNotFoundError:
            raise
        except OSError:
            temporary = final.with_name(f".{new_id()}.part")
            try:
                shutil.copyfile(source, temporary)
                os.chmod(temporary, FILE_MODE)
                os.replace(temporary, final)
            finally:
                temporary.unlink(missing_ok=True)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_HASH_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()

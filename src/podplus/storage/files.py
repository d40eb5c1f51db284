"""Files under the media root: uploads land in a temporary file and appear by rename.

Names on disk are always generated ids; a client's filename is data, never a path. The
files are one user's recordings: folders are 0700 and published files 0600, so other
accounts on the machine can't read them, whatever the umask.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

from podplus.ids import new_id

INCOMING_DIR = ".incoming"
EPISODES_DIR = "episodes"
FOLDER_MODE = 0o700
FILE_MODE = 0o600


class FileStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        for folder in (root, root / INCOMING_DIR, root / EPISODES_DIR):
            folder.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
            # Folders an earlier version made with the umask's 0755 close too; one that
            # isn't ours to change (a mount point) stays as its operator set it.
            with contextlib.suppress(PermissionError):
                folder.chmod(FOLDER_MODE)

    def incoming_path(self) -> Path:
        """A fresh temporary path on the same filesystem as the media, so publishing is a rename."""
        return self.root / INCOMING_DIR / f"{new_id()}.part"

    def media_path(self, storage_name: str) -> Path:
        return self.root / storage_name

    def episode_path(self, audio_name: str) -> Path:
        return self.root / EPISODES_DIR / audio_name

    def publish(self, temporary: Path, final: Path) -> None:
        """Move ``temporary`` into place as ``final``, readable by its owner only."""
        os.chmod(temporary, FILE_MODE)
        os.replace(temporary, final)

    def sweep_incoming(self, *, idle_s: float = 600.0) -> int:
        """Remove uploads a crashed run left half-written; returns how many.

        Only files idle for ``idle_s``: another worker sharing this root may be mid-upload.
        """
        removed = 0
        cutoff = time.time() - idle_s
        for leftover in (self.root / INCOMING_DIR).glob("*.part"):
            with contextlib.suppress(FileNotFoundError):
                if leftover.stat().st_mtime < cutoff:
                    leftover.unlink()
                    removed += 1
        return removed

    @staticmethod
    def remove(path: Path) -> None:
        path.unlink(missing_ok=True)

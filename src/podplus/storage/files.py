"""Files under the media root: uploads land in a temporary file and appear by rename.

Names on disk are always generated ids; a client's filename is data, never a path.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from pathlib import Path

from podplus.ids import new_id

INCOMING_DIR = ".incoming"
EPISODES_DIR = "episodes"
WORK_DIR = "work"


class FileStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        for folder in (root, root / INCOMING_DIR, root / EPISODES_DIR, root / WORK_DIR):
            folder.mkdir(parents=True, exist_ok=True)

    def incoming_path(self) -> Path:
        """A fresh temporary path on the same filesystem as the media, so publishing is a rename."""
        return self.root / INCOMING_DIR / f"{new_id()}.part"

    def media_path(self, storage_name: str) -> Path:
        return self.root / storage_name

    def episode_path(self, audio_name: str) -> Path:
        return self.root / EPISODES_DIR / audio_name

    def work_dir(self, job_id: str) -> Path:
        return self.root / WORK_DIR / job_id

    def remove_work_dir(self, job_id: str) -> None:
        """Remove a job's work folder and everything in it (the engine's own temporary
        folders included); a folder that isn't there is already removed."""
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(self.work_dir(job_id))

    def publish(self, temporary: Path, final: Path) -> None:
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

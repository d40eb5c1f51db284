"""Where the client keeps its login: ``<config dir>/credentials.json``.

The file holds a bearer token, so it is the user's alone: the folder is made 0700, the file
0600, and it is written whole or not at all (a temporary file beside it, flushed, then
renamed over the old one), so an interrupted login never leaves half a file or a moment in
which the token is readable by others.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from dataclasses import asdict, dataclass, field
from pathlib import Path

from podplus.client.errors import UsageError

CREDENTIALS_FILE = "credentials.json"
FOLDER_MODE = 0o700
FILE_MODE = 0o600


@dataclass(frozen=True)
class Credentials:
    """A login: which server, as whom, the token and when it expires (epoch seconds)."""

    server: str
    email: str
    token: str = field(repr=False)  # never shown
    expires_at: float | None = None


class CredentialStore:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path = folder / CREDENTIALS_FILE

    def load(self) -> Credentials | None:
        """The saved login, or None when there is none."""
        try:
            raw = self.path.read_text()
        except FileNotFoundError:
            return None
        try:
            data = json.loads(raw)
            return Credentials(
                server=str(data["server"]),
                email=str(data["email"]),
                token=str(data["token"]),
                expires_at=None if data.get("expires_at") is None else float(data["expires_at"]),
            )
        except (ValueError, KeyError, TypeError):
            raise UsageError(
                f"{self.path} is not a podplus login; run `podplus login --server URL` again."
            ) from None

    def save(self, credentials: Credentials) -> None:
        """Replace the saved login, atomically, readable by its owner only."""
        self.folder.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
        with contextlib.suppress(PermissionError):
            self.folder.chmod(FOLDER_MODE)
        temporary = self.folder / f".{CREDENTIALS_FILE}.{secrets.token_hex(6)}.tmp"
        # Created 0600 from the start, whatever the umask: never readable by others.
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        try:
            with os.fdopen(descriptor, "w") as handle:
                json.dump(asdict(credentials), handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        _sync_folder(self.folder)

    def remove(self) -> bool:
        """Forget the login; False if there was none."""
        try:
            self.path.unlink()
        except FileNotFoundError:
            return False
        return True


def _sync_folder(folder: Path) -> None:
    # The rename is durable once the folder's entry is on disk too.
    with contextlib.suppress(OSError):
        descriptor = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)

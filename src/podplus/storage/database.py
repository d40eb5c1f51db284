"""Opening the database: the backend from the URL; SQLite tuned so writers queue, not fail."""

from __future__ import annotations

import os
from pathlib import Path

from databases import Database

from podplus.storage.sqlite_pool import PodplusDatabase

# sqlite3's busy handler: a writer waits this long for the lock instead of raising
# "database is locked".
SQLITE_BUSY_TIMEOUT_S = 30.0


def open_database(url: str) -> Database:
    """Return an unconnected ``Database`` for ``url`` (``sqlite:///…`` or ``postgresql://…``)."""
    if url.startswith("sqlite"):
        path = url.removeprefix("sqlite:///")
        if path and path != ":memory:":
            _create_private(Path(path))
        return PodplusDatabase(url, timeout=SQLITE_BUSY_TIMEOUT_S)
    if url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    return Database(url, min_size=1, max_size=10)


def _create_private(path: Path) -> None:
    """Make an empty database file (a valid SQLite database) readable by its owner only,
    in a 0700 folder, before SQLite would create it with the umask's 0644. SQLite gives
    the ``-wal`` and ``-shm`` files beside it the database file's mode."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return  # an existing database keeps the mode its operator gave it
    os.close(fd)


async def connect(database: Database) -> None:
    await database.connect()
    if database.url.dialect == "sqlite":
        # WAL lets readers run beside the one writer; the mode is stored in the file.
        await database.execute("PRAGMA journal_mode=WAL")

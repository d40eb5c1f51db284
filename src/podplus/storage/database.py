"""Opening the database: the backend from the URL; SQLite tuned so writers queue, not fail."""

from __future__ import annotations

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
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        return PodplusDatabase(url, timeout=SQLITE_BUSY_TIMEOUT_S)
    if url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    return Database(url, min_size=1, max_size=10)


async def connect(database: Database) -> None:
    await database.connect()
    if database.url.dialect == "sqlite":
        # WAL lets readers run beside the one writer; the mode is stored in the file.
        await database.execute("PRAGMA journal_mode=WAL")

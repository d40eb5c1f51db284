"""Opening the database: the backend from the URL; SQLite tuned so writers queue, not fail."""

from __future__ import annotations

import os
import sqlite3
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


def is_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` (or what it was raised from) says the database can't be reached or
    is shutting down, rather than that a query was wrong: the request may succeed later."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if _says_unavailable(current):
            return True
        current = current.__cause__ or current.__context__
    return False


def _says_unavailable(exc: BaseException) -> bool:
    if isinstance(exc, sqlite3.OperationalError):
        return "locked" in str(exc) or "unable to open" in str(exc)
    return isinstance(exc, UNAVAILABLE_ERRORS)


def _unavailable_errors() -> tuple[type[BaseException], ...]:
    errors: tuple[type[BaseException], ...] = (ConnectionError, TimeoutError)
    try:
        import asyncpg
        import psycopg
    except ImportError:  # the PostgreSQL extra isn't installed: no such errors either
        return errors
    return (
        *errors,
        asyncpg.PostgresConnectionError,  # connecting failed, or the server went away
        asyncpg.InterfaceError,  # "connection is closed", a pool that is closing
        asyncpg.CannotConnectNowError,  # starting up or shutting down
        asyncpg.OperatorInterventionError,  # an administrator's shutdown, crash recovery
        psycopg.OperationalError,  # the queue's driver: the same, and its pool's timeout
    )


def _wrapping_errors() -> tuple[type[BaseException], ...]:
    errors: tuple[type[BaseException], ...] = (sqlite3.OperationalError,)
    try:
        from procrastinate.exceptions import ConnectorException
    except ImportError:
        return errors
    return (*errors, ConnectorException)  # raised from the psycopg error


# The errors that can mean "the database can't be reached" (``is_unavailable`` decides,
# following what each was raised from): the web layer answers them with a 503 of its own.
UNAVAILABLE_ERRORS = _unavailable_errors()
MAYBE_UNAVAILABLE_ERRORS = _wrapping_errors()

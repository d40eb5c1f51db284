"""A ``databases`` SQLite backend that reuses its connections.

The stock backend opens a new aiosqlite connection (a new thread and a new file handle)
for every task that touches the database, which is every HTTP request: on this machine
that was ~1.6 ms of CPU per ``GET /api/users/me``, ten times the cost of the request
itself. This backend keeps finished connections for the next task instead, and sets the
per-connection pragmas once when a connection is made.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiosqlite
from databases import Database, DatabaseURL
from databases.backends.sqlite import SQLiteBackend

# Connections open at once; each is one thread parked on a queue. Tasks beyond this
# wait their turn for a warm connection rather than paying for a cold one.
MAX_CONNECTIONS = 16
CONNECTION_PRAGMAS = (
    # WAL is durable at NORMAL: a power cut may lose the last commits, never the file.
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
)


class ReusingSQLitePool:
    """Hands out at most ``max_size`` aiosqlite connections and keeps returned ones warm."""

    def __init__(self, url: DatabaseURL, *, max_size: int = MAX_CONNECTIONS, **options: Any):
        self._path = url.database
        self._options = options
        self._slots = asyncio.Semaphore(max_size)
        self._idle: list[aiosqlite.Connection] = []

    async def acquire(self) -> aiosqlite.Connection:
        await self._slots.acquire()
        try:
            if self._idle:
                return self._idle.pop()
            connection = aiosqlite.connect(self._path, isolation_level=None, **self._options)
            await connection.__aenter__()
            for pragma in CONNECTION_PRAGMAS:
                await connection.execute(pragma)
            return connection
        except BaseException:
            self._slots.release()
            raise

    async def release(self, connection: aiosqlite.Connection) -> None:
        try:
            # A connection goes back clean or not at all.
            if connection.in_transaction:
                await connection.close()
            else:
                self._idle.append(connection)
        finally:
            self._slots.release()

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        await asyncio.gather(*(connection.close() for connection in idle))


class ReusingSQLiteBackend(SQLiteBackend):
    def __init__(self, database_url: DatabaseURL | str, **options: Any) -> None:
        super().__init__(database_url, **options)
        self._pool = ReusingSQLitePool(DatabaseURL(database_url), **options)  # type: ignore[assignment]

    async def disconnect(self) -> None:
        await self._pool.close()  # type: ignore[attr-defined]


class PodplusDatabase(Database):
    """``databases.Database`` with the reusing SQLite backend; other backends unchanged."""

    SUPPORTED_BACKENDS = {
        **Database.SUPPORTED_BACKENDS,
        "sqlite": f"{__name__}:ReusingSQLiteBackend",
    }

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

# Idle connections kept for reuse; each is one thread parked on a queue.
MAX_IDLE_CONNECTIONS = 8
CONNECTION_PRAGMAS = (
    # WAL is durable at NORMAL: a power cut may lose the last commits, never the file.
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
)


class ReusingSQLitePool:
    """Hands out aiosqlite connections, keeping up to ``max_idle`` returned ones warm."""

    def __init__(self, url: DatabaseURL, *, max_idle: int = MAX_IDLE_CONNECTIONS, **options: Any):
        self._path = url.database
        self._options = options
        self._max_idle = max_idle
        self._idle: list[aiosqlite.Connection] = []

    async def acquire(self) -> aiosqlite.Connection:
        if self._idle:
            return self._idle.pop()
        connection = aiosqlite.connect(self._path, isolation_level=None, **self._options)
        await connection.__aenter__()
        for pragma in CONNECTION_PRAGMAS:
            await connection.execute(pragma)
        return connection

    async def release(self, connection: aiosqlite.Connection) -> None:
        # A connection goes back clean or not at all.
        if connection.in_transaction or len(self._idle) >= self._max_idle:
            await connection.close()
            return
        self._idle.append(connection)

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

"""Point reads on the event loop's own thread, for the one query every request makes (SQLite).

Every authenticated request reads its account's row and asks whether its token was revoked
(``UserStore.holder_of``), so that a change made by any process sharing the database holds
on the very next request. Through ``databases`` a SQLite statement runs on aiosqlite's
thread: three hand-offs between threads that cost ~1 ms of CPU on a busy machine, against
~15 µs for the query itself. So that read is made here instead, on a read-only connection
of its own, in the loop's thread.

It can't stall the loop: in WAL mode a reader never waits for a writer, and the connection
has no busy timeout, so the rare moments SQLite answers "busy" to a reader (a checkpoint
resetting the log, recovery after a crash) raise at once, and the caller falls back to the
pool (``None`` from ``LoopReader.for_database`` or ``Busy`` from ``fetch_one``). Each read
is its own transaction, so it sees every commit made before it, by any process.

Answers are kept until the database changes: SQLite's ``PRAGMA data_version`` moves
whenever another connection (any process's, this one's pool included: this connection
never writes) commits, so a cached answer is never older than the last commit. Asking
costs a few microseconds, the query it saves about fifty.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from typing import Any

from databases import Database


class Busy(Exception):
    """SQLite could not read at once; read through the pool instead."""


# Answers kept between two commits; past it the cache starts again (one row per account
# and token in use: a few hundred on a busy server).
MAX_CACHED_ANSWERS = 4096


class LoopReader:
    """A read-only SQLite connection used only from the event loop's thread."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._connection: sqlite3.Connection | None = None
        self._data_version: int | None = None
        self._answers: dict[tuple[str, tuple[tuple[str, Any], ...]], Any] = {}

    @classmethod
    def for_database(cls, database: Database) -> LoopReader | None:
        """A reader of the same file as ``database``; None unless it is a SQLite file."""
        path = database.url.database
        if database.url.dialect != "sqlite" or not path or path == ":memory:":
            return None
        return cls(path)

    def fetch_one(self, sql: str, values: Mapping[str, Any]) -> Mapping[str, Any] | None:
        """The first row of ``sql`` (named parameters), or raise ``Busy``."""
        try:
            connection = self._open()
            data_version = connection.execute("PRAGMA data_version").fetchone()[0]
            if data_version != self._data_version:
                self._answers.clear()
                self._data_version = data_version
            key = (sql, tuple(sorted(values.items())))
            if key in self._answers:
                return self._answers[key]  # type: ignore[no-any-return]
            cursor = connection.execute(sql, values)
            try:
                row = cursor.fetchone()
            finally:
                # Ends the statement, and with it the read: the next one sees newer commits.
                cursor.close()
            if len(self._answers) >= MAX_CACHED_ANSWERS:
                self._answers.clear()
            self._answers[key] = row
            return row  # type: ignore[no-any-return]
        except sqlite3.Error as exc:
            # Busy or locked, or (should this store ever be used from another thread)
            # sqlite3's thread check: either way the pool can answer.
            raise Busy(str(exc)) from exc

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _open(self) -> sqlite3.Connection:
        if self._connection is None:
            # Opened on first use, in the loop's thread (sqlite3 holds it to that thread).
            connection = sqlite3.connect(self._path, timeout=0, isolation_level=None)
            connection.row_factory = sqlite3.Row
            connection.execute("PRAGMA query_only=1")
            self._connection = connection
        return self._connection

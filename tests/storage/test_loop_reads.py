"""Reads on the event loop's thread: each sees every commit made before it, by any
connection, and one that would have to wait for a lock gives up at once instead of
stalling the loop."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from podplus.storage.database import connect, open_database
from podplus.storage.loop_reads import Busy, LoopReader
from podplus.storage.migrations import migrate
from podplus.storage.users import UserStore


async def test_each_read_sees_what_another_process_committed_before_it(tmp_path: Path) -> None:
    database = open_database(f"sqlite:///{tmp_path / 'podplus.db'}")
    await connect(database)
    await migrate(database)
    try:
        reader = LoopReader.for_database(database)
        assert reader is not None
        users = UserStore(database)
        user = await users.create(email="ada@example.com", name="", password_hash="-")
        query = "SELECT is_admin FROM users WHERE id = :id"
        assert reader.fetch_one(query, {"id": user.id})["is_admin"] == 0  # type: ignore[index]
        await users.set_admin("ada@example.com", is_admin=True)
        assert reader.fetch_one(query, {"id": user.id})["is_admin"] == 1  # type: ignore[index]
        reader.close()
        users.close()
    finally:
        await database.disconnect()


def test_a_read_that_would_wait_for_a_lock_raises_busy_at_once(tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("CREATE TABLE t (x)")
    # Without WAL a writer's exclusive lock shuts readers out: the reader must not wait.
    writer.execute("BEGIN EXCLUSIVE")
    writer.execute("INSERT INTO t VALUES (1)")
    reader = LoopReader(str(path))
    with pytest.raises(Busy):
        reader.fetch_one("SELECT x FROM t", {})
    writer.execute("COMMIT")
    assert reader.fetch_one("SELECT x FROM t", {})["x"] == 1  # type: ignore[index]
    reader.close()
    writer.close()


def test_a_repeated_read_is_answered_again_only_after_a_commit_by_any_connection(
    tmp_path: Path,
) -> None:
    path = tmp_path / "cached.db"
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("CREATE TABLE t (x)")
    writer.execute("INSERT INTO t VALUES (1)")
    reader = LoopReader(str(path))
    query = "SELECT x FROM t"
    first = reader.fetch_one(query, {})
    assert reader.fetch_one(query, {}) is first  # kept: nothing was committed since
    # A commit by another connection (as another server process would make) is seen at once.
    writer.execute("UPDATE t SET x = 2")
    assert reader.fetch_one(query, {})["x"] == 2  # type: ignore[index]
    reader.close()
    writer.close()

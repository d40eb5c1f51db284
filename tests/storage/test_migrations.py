"""The schema is created on start, idempotently, with its version recorded."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from podplus.storage.database import connect, open_database
from podplus.storage.migrations import SCHEMA_VERSION, current_version, migrate


async def test_migrate_twice_is_a_no_op_and_records_the_version(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    for _ in range(2):
        database = open_database(url)
        await connect(database)
        assert await migrate(database) == SCHEMA_VERSION
        assert await current_version(database) == SCHEMA_VERSION
        await database.disconnect()
    rows = (
        sqlite3.connect(tmp_path / "db.sqlite")
        .execute("select version from schema_migrations")
        .fetchall()
    )
    assert rows == [(version,) for version in range(1, SCHEMA_VERSION + 1)]


async def test_sqlite_runs_in_wal_mode(tmp_path: Path) -> None:
    database = open_database(f"sqlite:///{tmp_path / 'db.sqlite'}")
    await connect(database)
    await migrate(database)
    await database.disconnect()
    mode = sqlite3.connect(tmp_path / "db.sqlite").execute("pragma journal_mode").fetchone()[0]
    assert mode == "wal"

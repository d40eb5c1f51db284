"""The schema is created on start, idempotently, with its version recorded."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from podplus.storage.database import connect, open_database
from podplus.storage.migrations import SCHEMA_VERSION, current_version, migrate
from podplus.storage.schema import schema_migrations


async def test_migrate_twice_is_a_no_op_and_records_the_version(database_url: str) -> None:
    for _ in range(2):
        database = open_database(database_url)
        await connect(database)
        assert await migrate(database) == SCHEMA_VERSION
        assert await current_version(database) == SCHEMA_VERSION
        rows = await database.fetch_all(schema_migrations.select())
        assert [row["version"] for row in rows] == list(range(1, SCHEMA_VERSION + 1))
        await database.disconnect()


async def test_sqlite_runs_in_wal_mode(tmp_path: Path) -> None:
    database = open_database(f"sqlite:///{tmp_path / 'db.sqlite'}")
    await connect(database)
    await migrate(database)
    await database.disconnect()
    mode = sqlite3.connect(tmp_path / "db.sqlite").execute("pragma journal_mode").fetchone()[0]
    assert mode == "wal"

"""Schema creation and migration, run on every start; safe to run twice or from two processes."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

import sqlalchemy as sa
from databases import Database
from sqlalchemy.schema import CreateIndex, CreateTable

from podplus.storage.schema import metadata, schema_migrations

Migration = Callable[[Database], Awaitable[None]]


async def _create_tables(database: Database) -> None:
    for table in metadata.sorted_tables:
        if table is schema_migrations:
            continue
        await database.execute(CreateTable(table, if_not_exists=True))
        for index in table.indexes:
            await database.execute(CreateIndex(index, if_not_exists=True))


# Append-only: version N is MIGRATIONS[N - 1]. Never edit one that has shipped.
MIGRATIONS: tuple[Migration, ...] = (_create_tables,)

SCHEMA_VERSION = len(MIGRATIONS)


async def current_version(database: Database) -> int:
    value = await database.fetch_val(sa.select(sa.func.max(schema_migrations.c.version)))
    return int(value or 0)


async def migrate(database: Database) -> int:
    """Bring the schema to ``SCHEMA_VERSION`` and return it."""
    await database.execute(CreateTable(schema_migrations, if_not_exists=True))
    version = await current_version(database)
    for number, migration in enumerate(MIGRATIONS[version:], start=version + 1):
        async with database.transaction():
            await migration(database)
            await database.execute(
                schema_migrations.insert().values(version=number, applied_at=time.time())
            )
    return SCHEMA_VERSION

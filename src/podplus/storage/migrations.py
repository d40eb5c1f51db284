"""Schema creation and migration, run on every start; safe to run twice or from two processes."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

import sqlalchemy as sa
from databases import Database
from sqlalchemy.schema import CreateIndex, CreateTable

from podplus.storage.schema import (
    analysis_slots,
    download_counts,
    download_windows,
    episodes,
    jobs,
    metadata,
    publications,
    revoked_tokens,
    schema_migrations,
    show_slugs,
    shows,
    throttle_counters,
    webhook_deliveries,
    webhooks,
)

Migration = Callable[[Database], Awaitable[None]]


async def _create_tables(database: Database) -> None:
    for table in metadata.sorted_tables:
        if table is schema_migrations:
            continue
        await database.execute(CreateTable(table, if_not_exists=True))
        for index in table.indexes:
            await database.execute(CreateIndex(index, if_not_exists=True))


async def _create_table(database: Database, table: sa.Table) -> None:
    await database.execute(CreateTable(table, if_not_exists=True))
    for index in table.indexes:
        await database.execute(CreateIndex(index, if_not_exists=True))


async def _add_column(database: Database, table: str, column: str, sql_type: str) -> None:
    """Add a nullable column unless the table has it already.

    Version 1 creates the tables from today's ``schema.py``, so on a database made from
    scratch the column is there already; only a database made by an older release lacks it.
    """
    if database.url.dialect == "postgresql":
        await database.execute(f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {column} {sql_type}")
        return
    # SQLite has no ADD COLUMN IF NOT EXISTS: look first.
    rows = await database.fetch_all(f"PRAGMA table_info({table})")
    if all(row["name"] != column for row in rows):
        await database.execute(f"ALTER TABLE {table} ADD COLUMN {column} {sql_type}")


async def _add_jobs_failure_cause(database: Database) -> None:
    await _add_column(database, "jobs", "failure_cause", "VARCHAR(32)")


async def _add_token_revocation_and_attempt_counters(database: Database) -> None:
    # Logout everywhere and a new password end every earlier token; logout ends one.
    await _add_column(database, "users", "tokens_valid_after", "FLOAT")
    await _create_table(database, revoked_tokens)
    # One row per bucket, changed atomically, instead of a row per failure counted after
    # the fact (which let concurrent guesses through before any was recorded).
    await _create_table(database, throttle_counters)
    await database.execute("DROP TABLE IF EXISTS login_failures")


async def _index_jobs_by_owner(database: Database) -> None:
    # The per-owner quota counts an owner's live jobs, and fair claiming reads how many
    # each owner has running and when their last one started.
    for index in jobs.indexes:
        if index.name in ("ix_jobs_owner_status", "ix_jobs_owner_started"):
            await database.execute(CreateIndex(index, if_not_exists=True))


async def _add_shows_and_publishing(database: Database) -> None:
    # Shows (with every slug they have had), episodes published into their feeds, and the
    # downloads counted from them.
    await _create_table(database, shows)
    await _create_table(database, show_slugs)
    await _add_column(database, "episodes", "show_id", "VARCHAR(32) REFERENCES shows (id)")
    await _add_column(database, "episodes", "guid", "VARCHAR(36)")
    for index in episodes.indexes:
        if index.name in ("ix_episodes_show", "ux_episodes_guid"):
            await database.execute(CreateIndex(index, if_not_exists=True))
    for table in (publications, download_windows, download_counts):
        await _create_table(database, table)


async def _add_episode_reports(database: Database) -> None:
    # What the engine did to each part of an episode's current audio, kept with it.
    await _add_column(database, "episodes", "report", "TEXT")


async def _add_webhooks(database: Database) -> None:
    # Webhooks and their outbox of deliveries.
    for table in (webhooks, webhook_deliveries):
        await _create_table(database, table)


async def _add_jobs_queue_job_id(database: Database) -> None:
    # On PostgreSQL each job is carried by a procrastinate job; a cancel aborts it by id.
    await _add_column(database, "jobs", "queue_job_id", "BIGINT")


async def _add_analysis_slots(database: Database) -> None:
    # The per-owner limit on uploads being analysed holds across several servers.
    await _create_table(database, analysis_slots)


# Append-only: version N is MIGRATIONS[N - 1]. Never edit one that has shipped.
MIGRATIONS: tuple[Migration, ...] = (
    _create_tables,  # 1
    _add_jobs_failure_cause,  # 2
    _add_token_revocation_and_attempt_counters,  # 3
    _index_jobs_by_owner,  # 4
    _add_shows_and_publishing,  # 5
    _add_episode_reports,  # 6
    _add_webhooks,  # 7
    _add_jobs_queue_job_id,  # 8
    _add_analysis_slots,  # 9
)

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

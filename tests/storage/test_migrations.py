"""The schema is created on start, idempotently, with its version recorded, and a database
an older release made is brought up to date."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from podplus.storage.database import connect, open_database
from podplus.storage.episodes import EpisodeAudio, EpisodeStore
from podplus.storage.jobs import FailureCause, JobStore
from podplus.storage.migrations import SCHEMA_VERSION, current_version, migrate
from podplus.storage.reports import AssemblyReport
from podplus.storage.schema import episodes, schema_migrations, users


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


async def test_a_version_1_database_gains_the_jobs_failure_cause(database_url: str) -> None:
    # A database as release 1 left it: its tables, version 1 recorded, one finished job.
    database = open_database(database_url)
    await connect(database)
    await migrate(database)
    await database.execute("ALTER TABLE jobs DROP COLUMN failure_cause")
    await database.execute(schema_migrations.delete().where(schema_migrations.c.version > 1))
    await database.execute(
        users.insert().values(id="u", email="u@x.io", name="", password_hash="-", created_at=0)
    )
    await database.execute(
        episodes.insert().values(
            id="e", owner_id="u", title="t", spec="{}", created_at=0, updated_at=0
        )
    )
    await database.execute(
        "INSERT INTO jobs (id, owner_id, episode_id, status, error, created_at) "
        "VALUES ('j', 'u', 'e', 'failed', 'timeout', 0)"
    )
    assert await migrate(database) == SCHEMA_VERSION >= 2
    job = await JobStore(database).get("j")
    assert job is not None and job.error == "timeout" and job.failure_cause is None
    await JobStore(database).fail("j", cause=FailureCause.TIMEOUT, error="timeout")
    await database.disconnect()


async def test_a_version_5_database_gains_the_episode_reports(database_url: str) -> None:
    # A database as version 5 left it: episodes without their report, one with audio.
    database = open_database(database_url)
    await connect(database)
    await migrate(database)
    await database.execute("ALTER TABLE episodes DROP COLUMN report")
    await database.execute(schema_migrations.delete().where(schema_migrations.c.version > 5))
    await database.execute(
        users.insert().values(id="u", email="u@x.io", name="", password_hash="-", created_at=0)
    )
    await database.execute(
        "INSERT INTO episodes (id, owner_id, title, description, spec, audio_name, "
        "created_at, updated_at) VALUES ('e', 'u', 't', '', '{\"segments\": "
        '[{"media_id": "m"}]}\', \'e-j1.mp3\', 0, 0)'
    )
    assert await migrate(database) == SCHEMA_VERSION >= 6
    store = EpisodeStore(database)
    before = await store.get("e")
    assert before is not None and before.audio_name == "e-j1.mp3" and before.report is None
    report = AssemblyReport(parts=[], chapters=[], encodes=2, limited=True)
    audio = EpisodeAudio(
        audio_name="e-j2.mp3", audio_size_bytes=10, duration_s=1.0, integrated_lufs=-16.0,
        true_peak_db=-1.0, report=report,
    )  # fmt: skip
    assert await store.set_audio("e", audio)
    after = await store.get("e")
    assert after is not None and after.report == report
    await database.disconnect()

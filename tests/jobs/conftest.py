from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from databases import Database

from podplus.ids import new_id
from podplus.storage.database import connect, open_database
from podplus.storage.migrations import migrate
from podplus.storage.schema import episodes, jobs, users

STAND_IN = Path(__file__).with_name("stand_in_engine.py")


def stand_in_command(mode: str) -> tuple[str, ...]:
    return (sys.executable, str(STAND_IN), mode)


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    """A migrated database with one user, so tests can add the rows their records point at."""
    db = open_database(f"sqlite:///{tmp_path / 'jobs.db'}")
    await connect(db)
    await migrate(db)
    await db.execute(
        users.insert().values(id="u1", email="u@x.io", name="", password_hash="-", created_at=0)
    )
    yield db
    await db.disconnect()


async def add_job(database: Database, job_id: str, *, status: str = "running") -> str:
    """An episode and a job row with the given id, owned by user ``u1``."""
    episode_id = new_id()
    await database.execute(
        episodes.insert().values(
            id=episode_id, owner_id="u1", title="t", spec="{}", created_at=0, updated_at=0
        )
    )
    await database.execute(
        jobs.insert().values(
            id=job_id, owner_id="u1", episode_id=episode_id, status=status, created_at=0
        )
    )
    return job_id

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from databases import Database

from podplus.ids import new_id
from podplus.storage.database import connect, open_database
from podplus.storage.migrations import migrate
from podplus.storage.s3_objects import S3Objects
from podplus.storage.schema import episodes, jobs, users
from tests.conftest import S3Server, free_port

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


def s3_objects(server: S3Server, *, endpoint: str = "", timeout_s: float = 5.0) -> S3Objects:
    """A store of the calling test's own (a fresh prefix) on the test S3 server; or, with
    ``endpoint``, the same store reached somewhere else (a port nothing listens on)."""
    return S3Objects(
        bucket=server.bucket,
        prefix=f"test-{new_id()[:16]}",
        endpoint=endpoint or server.endpoint,
        access_key_id=server.access_key_id,
        secret_access_key=server.secret_access_key,
        timeout_s=timeout_s,
    )


def unreachable(server: S3Server) -> S3Objects:
    """The test store at a port nothing listens on: every call fails within a second."""
    return s3_objects(server, endpoint=f"http://127.0.0.1:{free_port()}", timeout_s=1.0)

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from databases import Database

from podplus.storage.database import connect, open_database
from podplus.storage.migrations import migrate

STAND_IN = Path(__file__).with_name("stand_in_engine.py")


def stand_in_command(mode: str) -> tuple[str, ...]:
    return (sys.executable, str(STAND_IN), mode)


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    db = open_database(f"sqlite:///{tmp_path / 'jobs.db'}")
    await connect(db)
    await migrate(db)
    yield db
    await db.disconnect()

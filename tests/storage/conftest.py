"""Storage tests run on every database podplus supports: a SQLite file, and a real
PostgreSQL server (``scripts/test.sh`` starts one and exports its URL)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from podplus.ids import new_id

POSTGRES_URL_VARIABLE = "PODPLUS_TEST_POSTGRES_URL"


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh, empty database of each kind."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'podplus.db'}"
        return
    server_url = os.environ.get(POSTGRES_URL_VARIABLE)
    if not server_url:
        pytest.fail(f"{POSTGRES_URL_VARIABLE} is not set: run the suite with `make test`")
    name = f"podplus_test_{new_id()[:12]}"
    admin = await asyncpg.connect(server_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield server_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()

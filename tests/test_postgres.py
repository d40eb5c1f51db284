"""The same application code on PostgreSQL: the whole API loop on a real server."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from podplus.settings import Settings
from tests.api import finished, new_episode, served, wait_for


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_the_api_loop_runs_on_postgresql(
    database_url: str, settings: Settings, tmp_path: Path
) -> None:
    on_postgres = replace(settings, database_url=database_url)
    async with served(on_postgres, "ok") as (client, auth):
        episode_id = await new_episode(client, auth, tmp_path)
        job_id = (await client.post(f"/api/episodes/{episode_id}/assemble", headers=auth)).json()[
            "job_id"
        ]
        job = await wait_for(client, auth, job_id, finished)
        episodes = (await client.get("/api/episodes", headers=auth)).json()["items"]
        health = (await client.get("/healthz")).json()
    assert job["status"] == "succeeded"
    assert [episode["status"] for episode in episodes] == ["ready"]
    assert health["database"] == "postgresql"

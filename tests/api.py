"""Helpers for tests that drive the API in process with a chosen engine."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

import httpx

from podplus.app import create_app
from podplus.settings import Settings
from tests.conftest import register
from tests.jobs.conftest import stand_in_command
from tests.media_files import tone

Client = tuple[httpx.AsyncClient, dict[str, str]]


@asynccontextmanager
async def served(settings: Settings, mode: str, **overrides: Any) -> AsyncIterator[Client]:
    app = create_app(replace(settings, engine_command=stand_in_command(mode), **overrides))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client, await register(client)


async def new_episode(client: httpx.AsyncClient, auth: dict[str, str], tmp_path) -> str:  # type: ignore[no-untyped-def]
    clip = tone(tmp_path / f"{time.monotonic_ns()}.wav", seconds=1)
    media = await client.post(
        "/api/media", headers=auth, files={"file": (clip.name, clip.read_bytes())}
    )
    episode = await client.post(
        "/api/episodes",
        headers=auth,
        json={"title": "Ep", "segments": [{"media_id": media.json()["id"]}]},
    )
    return str(episode.json()["id"])


async def wait_for(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    job_id: str,
    done: Callable[[dict[str, Any]], bool],
    timeout_s: float = 20,
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = (await client.get(f"/api/jobs/{job_id}", headers=auth)).json()
        if done(job):
            return job  # type: ignore[no-any-return]
        await asyncio.sleep(0.05)
    raise AssertionError(f"job never got there: {job}")


def finished(job: dict[str, Any]) -> bool:
    return job["status"] in ("succeeded", "failed", "cancelled")

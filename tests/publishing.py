"""Helpers for the shows and publishing tests: an app whose clock a test moves, shows,
artwork, and episodes assembled by the real engine (a few seconds of tone each)."""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx

from podplus.app import create_app
from podplus.settings import Settings
from tests.api import finished, wait_for
from tests.media_files import ffmpeg, tone

# What podcast apps send; the download counter takes these for listeners.
APP_USER_AGENT = "gPodder/3.11.4 (+https://gpodder.github.io/)"
START = 1_800_000_000.0  # 2027-01-15, a Friday
PUBLIC_URL = "https://pod.test"


class Clock:
    """The app's clock: stands still until a test moves it."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@asynccontextmanager
async def serving(
    settings: Settings, clock: Clock | None = None, **overrides: Any
) -> AsyncIterator[httpx.AsyncClient]:
    """An in-process app (real engine) on ``clock``, lifespan included, whose public
    address (``PODPLUS_PUBLIC_URL``) is the client's: ``https://pod.test``."""
    overrides = {"public_url": PUBLIC_URL, **overrides}
    app = create_app(replace(settings, **overrides), clock=clock or Clock())
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
        async with httpx.AsyncClient(transport=transport, base_url=PUBLIC_URL) as client:
            yield client


def show_body(**overrides: Any) -> dict[str, Any]:
    return {
        "title": "The Engine Room",
        "description": "Conversations about <b>machines</b>.\n\nEvery Friday.",
        "author": "Ada Lovelace",
        "owner_name": "Ada Lovelace",
        "owner_email": "ada@example.com",
        "language": "en-US",
        "category": "Technology",
        **overrides,
    }


async def make_show(
    client: httpx.AsyncClient, auth: dict[str, str], **overrides: Any
) -> dict[str, Any]:
    response = await client.post("/api/shows", headers=auth, json=show_body(**overrides))
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def picture(path: Path, *, size: str = "1400x1400", pixel_format: str | None = None) -> Path:
    """A still image of ``size``, encoded by the extension (png, jpg, gif, webp…)."""
    options = ["-pix_fmt", pixel_format] if pixel_format else []
    ffmpeg("-f", "lavfi", "-i", f"testsrc=s={size}", "-frames:v", "1", *options, str(path))
    return path


async def put_artwork(
    client: httpx.AsyncClient, auth: dict[str, str], show_id: str, path: Path
) -> httpx.Response:
    return await client.put(
        f"/api/shows/{show_id}/artwork",
        headers=auth,
        files={"file": (path.name, path.read_bytes())},
    )


async def upload_audio(
    client: httpx.AsyncClient, auth: dict[str, str], path: Path, kind: str = "content"
) -> str:
    response = await client.post(
        "/api/media",
        headers=auth,
        files={"file": (path.name, path.read_bytes())},
        data={"kind": kind},
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def assemble(client: httpx.AsyncClient, auth: dict[str, str], episode_id: str) -> None:
    queued = await client.post(f"/api/episodes/{episode_id}/assemble", headers=auth)
    assert queued.status_code == 202, queued.text
    job = await wait_for(client, auth, queued.json()["job_id"], finished, timeout_s=90)
    assert job["status"] == "succeeded", job


async def ready_episode(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    tmp_path: Path,
    *,
    show_id: str | None,
    title: str = "Episode 1",
    description: str = "",
    output_format: str = "mp3",
    seconds: float = 2.0,
) -> dict[str, Any]:
    """An episode of two parts (two chapters), assembled by the real engine."""
    take = tone(tmp_path / f"take-{title.replace(' ', '_')}.wav", seconds=seconds)
    sting = tone(tmp_path / f"sting-{title.replace(' ', '_')}.wav", seconds=1.0, frequency_hz=660)
    take_id = await upload_audio(client, auth, take)
    sting_id = await upload_audio(client, auth, sting)
    created = await client.post(
        "/api/episodes",
        headers=auth,
        json={
            "title": title,
            "description": description,
            "show_id": show_id,
            "segments": [{"media_id": take_id}, {"media_id": sting_id}],
            "output": {"format": output_format},
        },
    )
    assert created.status_code == 201, created.text
    episode_id = created.json()["id"]
    await assemble(client, auth, episode_id)
    return (await client.get(f"/api/episodes/{episode_id}", headers=auth)).json()  # type: ignore[no-any-return]


async def publish(
    client: httpx.AsyncClient, auth: dict[str, str], episode_id: str, **body: Any
) -> httpx.Response:
    return await client.post(f"/api/episodes/{episode_id}/publish", headers=auth, json=body)


def files_under(folder: Path) -> list[str]:
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file())


def probe_duration_s(path: Path) -> float:
    shown = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(shown.stdout.strip())

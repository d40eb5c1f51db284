"""What podplus writes to disk is its owner's alone: 0600 files in 0700 folders, after a real
start, upload and assembly (real ffmpeg), whatever the umask."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from podplus.app import create_app
from podplus.settings import Settings
from tests.api import finished, wait_for
from tests.conftest import register
from tests.media_files import tone


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The most permissive umask a careless service manager leaves: 0644 files, 0755 folders."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_the_database_the_key_and_the_media_are_the_owners_alone(
    settings: Settings, tmp_path: Path, open_umask: None
) -> None:
    data_dir = tmp_path / "var"  # made by podplus, as on a first start
    fresh = replace(
        settings,
        data_dir=data_dir,
        database_url=f"sqlite:///{data_dir / 'podplus.db'}",
        media_root=data_dir / "media",
        scratch_dir=data_dir / "scratch",
        secret_key="",  # so podplus creates secret.key
        engine_command=Settings().engine_command,  # the real engine
    )
    app = create_app(fresh)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            auth = await register(client)
            clip = tone(tmp_path / "take.wav", seconds=1)
            media = await client.post(
                "/api/media", headers=auth, files={"file": (clip.name, clip.read_bytes())}
            )
            assert media.status_code == 201, media.text
            episode = await client.post(
                "/api/episodes",
                headers=auth,
                json={"title": "Modes", "segments": [{"media_id": media.json()["id"]}]},
            )
            queued = await client.post(
                f"/api/episodes/{episode.json()['id']}/assemble", headers=auth
            )
            job = await wait_for(client, auth, queued.json()["job_id"], finished, timeout_s=60)
            assert job["status"] == "succeeded", job

            files = sorted(p for p in data_dir.rglob("*") if p.is_file())
            folders = sorted([data_dir, *(p for p in data_dir.rglob("*") if p.is_dir())])
            names = {p.name for p in files}
            assert {"secret.key", "podplus.db", "podplus.db-wal", media.json()["id"]} <= names
            assert any(p.parent.name == "episodes" for p in files), files
            assert {p: oct(mode(p)) for p in files if mode(p) != 0o600} == {}
            assert {p: oct(mode(p)) for p in folders if mode(p) != 0o700} == {}

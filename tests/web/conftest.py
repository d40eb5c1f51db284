"""For the upload tests: hostile media, made once per session with ffmpeg, and apps with
the limits a test sets."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from podplus.app import create_app
from podplus.settings import Settings
from tests.media_files import ffmpeg

BOMB_SECONDS = 300


@pytest.fixture(scope="session")
def flac_bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A decompression bomb: five minutes of 192 kHz 7.1 silence in well under 200 KB of
    FLAC. Decoding it all (a loudness measurement) costs seconds of CPU; its headers say
    what it is in a few bytes."""
    path = tmp_path_factory.mktemp("bomb") / "bomb.flac"
    ffmpeg(
        "-f", "lavfi", "-i", "anullsrc=r=192000:cl=7.1:n=32768", "-t", str(BOMB_SECONDS),
        "-c:a", "flac", "-compression_level", "12", "-frame_size", "32768", str(path),
    )  # fmt: skip
    assert path.stat().st_size < 200 * 1024
    return path


@contextlib.asynccontextmanager
async def _serving(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(replace(settings, run_jobs=False))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            yield client


@pytest.fixture
def serve() -> Callable[[Settings], AbstractAsyncContextManager[httpx.AsyncClient]]:
    """``async with serve(settings) as client``: an in-process app with these settings."""
    return _serving

"""Upload analysis under attack: a decompression bomb is refused on its headers, or costs
at most its time limit, runs like an engine, one user's analyses are capped, and a
stopped analysis leaves no process, no file and no row behind."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import sqlite3
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import httpx
import psutil
import pytest

from podplus.settings import Settings
from tests.conftest import register
from tests.media_files import tone

FFMPEG_TOOLS = {"ffmpeg", "ffprobe"}


async def upload(client: httpx.AsyncClient, auth: dict[str, str], path: Path) -> httpx.Response:
    return await client.post(
        "/api/media", headers=auth, files={"file": (path.name, path.read_bytes())}
    )


def ffmpeg_children() -> list[psutil.Process]:
    found = []
    for child in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.NoSuchProcess):
            if child.name() in FFMPEG_TOOLS and child.status() != psutil.STATUS_ZOMBIE:
                found.append(child)
    return found


async def child_appears(match: Callable[[psutil.Process], bool]) -> psutil.Process:
    """Wait (a long while on a loaded machine) for an ffmpeg child of this process."""
    for _ in range(600):
        for child in ffmpeg_children():
            with contextlib.suppress(psutil.NoSuchProcess):
                if match(child):
                    return child
        await asyncio.sleep(0.05)
    raise AssertionError("the analysis never started")


def measuring(child: psutil.Process) -> bool:
    return child.name() == "ffmpeg" and "ebur128" in " ".join(child.cmdline())


def media_rows(settings: Settings) -> list[tuple[str, str]]:
    with contextlib.closing(
        sqlite3.connect(settings.database_url.removeprefix("sqlite:///"))
    ) as db:
        return list(db.execute("SELECT owner_id, filename FROM media"))


def stored_files(settings: Settings) -> list[Path]:
    return [p for p in settings.media_root.rglob("*") if p.is_file()]


def tools_started(caplog: pytest.LogCaptureFixture) -> list[str]:
    return re.findall(r"event=media\.analysis\.started tool=(\S+)", caplog.text)


def assert_nothing_left(settings: Settings) -> None:
    assert ffmpeg_children() == []
    assert media_rows(settings) == []
    assert stored_files(settings) == []


async def test_a_flac_bomb_is_refused_on_its_headers_before_anything_is_decoded(  # type: ignore[no-untyped-def]
    client, auth, settings, flac_bomb, caplog
) -> None:
    caplog.set_level(logging.DEBUG, logger="podplus.probing")
    response = await upload(client, auth, flac_bomb)

    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media"
    assert "192000 Hz; the limit is 96000 Hz" in response.json()["error"]["message"]
    # Only ffprobe read it: no loudness pass decoded a sample.
    assert tools_started(caplog) == ["ffprobe"]
    assert_nothing_left(settings)


async def test_audio_longer_than_the_limit_is_413_before_it_is_measured(
    serve, settings, tmp_path, caplog
):  # type: ignore[no-untyped-def]
    caplog.set_level(logging.DEBUG, logger="podplus.probing")
    async with serve(replace(settings, max_media_duration_s=1.0)) as client:
        auth = await register(client)
        response = await upload(client, auth, tone(tmp_path / "two.wav", seconds=2.0))

    assert response.status_code == 413
    assert "0:00:02 long; the limit is 0:00:01" in response.json()["error"]["message"]
    assert tools_started(caplog) == ["ffprobe"]
    assert_nothing_left(settings)


async def test_more_channels_than_the_limit_are_415(serve, settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    async with serve(replace(settings, max_channels=1)) as client:
        auth = await register(client)
        response = await upload(client, auth, tone(tmp_path / "stereo.flac", channels=2))

    assert response.status_code == 415
    assert "2 channels; the limit is 1" in response.json()["error"]["message"]
    assert_nothing_left(settings)


async def test_an_analysis_past_its_time_limit_is_killed_and_refused_with_413(  # type: ignore[no-untyped-def]
    serve, settings, flac_bomb, caplog
) -> None:
    # Let the bomb past the probe, so its loudness pass (seconds of CPU) has to be stopped.
    lenient = replace(settings, max_sample_rate=192000, analysis_timeout_s=0.5)
    caplog.set_level(logging.DEBUG, logger="podplus.probing")
    async with serve(lenient) as client:
        auth = await register(client)
        response = await upload(client, auth, flac_bomb)

    assert response.status_code == 413
    assert response.json()["error"]["message"].startswith(
        "Analysing the file took longer than its 0.5 s limit"
    )
    assert tools_started(caplog) == ["ffprobe", "ffmpeg"]
    assert "event=media.analysis.timeout" in caplog.text
    assert_nothing_left(settings)


async def test_one_user_gets_n_analyses_at_once_and_a_stopped_one_is_killed(  # type: ignore[no-untyped-def]
    serve, settings, flac_bomb, tmp_path
) -> None:
    one_each = replace(
        settings, max_sample_rate=192000, max_analyses_per_user=1, analysis_timeout_s=600
    )
    async with serve(one_each) as client:
        ada = await register(client)
        grace = await register(client, "grace@example.com")
        first = asyncio.create_task(upload(client, ada, flac_bomb))
        child = await child_appears(measuring)

        # It runs like an engine: idle priority, niced, in a process group of its own.
        assert os.sched_getscheduler(child.pid) == os.SCHED_IDLE
        assert child.nice() == settings.engine_nice
        assert os.getpgid(child.pid) == child.pid
        # Stopped, it can't finish on its own: it holds the slot until it is killed.
        child.suspend()

        # Refused before its body is read: a 500 MB upload isn't streamed only to be turned
        # away once it is all here.
        sent_chunks = 0

        async def big_body():  # type: ignore[no-untyped-def]
            nonlocal sent_chunks
            yield b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n\r\n'
            for _ in range(1000):
                sent_chunks += 1
                yield b"\0" * 65536

        second = await client.post(
            "/api/media",
            headers={**ada, "Content-Type": "multipart/form-data; boundary=b"},
            content=big_body(),
        )
        assert second.status_code == 429
        assert second.json()["error"]["code"] == "too_many_requests"
        assert int(second.headers["retry-after"]) > 0
        assert sent_chunks <= 1
        # The limit is per user: someone else's upload goes through meanwhile.
        others = await upload(client, grace, tone(tmp_path / "b.wav"))
        assert others.status_code == 201

        # The request is dropped (as a server does when its client goes): the analysis
        # is killed and reaped before the handler returns.
        first.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await first
        assert not child.is_running()

    assert ffmpeg_children() == []
    grace_id = others.json()["id"]
    assert [name for _, name in media_rows(settings)] == ["b.wav"]
    assert [p.name for p in stored_files(settings)] == [grace_id]


async def test_an_upload_still_streaming_holds_its_slot(serve, settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    # Two uploads at once from a user allowed one: the second is refused at once, not after
    # both have streamed their whole file.
    async with serve(replace(settings, max_analyses_per_user=1)) as client:
        ada = await register(client)
        go_on, reading = asyncio.Event(), asyncio.Event()

        async def slow_body():  # type: ignore[no-untyped-def]
            yield b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n\r\n'
            reading.set()  # the server asked for more: it is past the slot
            await go_on.wait()
            yield b"--b--\r\n"

        first = asyncio.create_task(
            client.post(
                "/api/media",
                headers={**ada, "Content-Type": "multipart/form-data; boundary=b"},
                content=slow_body(),
            )
        )
        await reading.wait()
        second = await upload(client, ada, tone(tmp_path / "b.wav"))
        go_on.set()
        await first
    assert second.status_code == 429
    assert media_rows(settings) == []

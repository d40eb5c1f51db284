"""Per-user media quotas: bytes stored, files, seconds of audio. Past one, an upload is 413
``quota_exceeded`` naming the quota and its value, and leaves nothing behind."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import httpx

from podplus.app import create_app
from podplus.settings import Settings
from tests.conftest import register
from tests.media_files import tone


async def upload(client: httpx.AsyncClient, auth: dict[str, str], path: Path) -> httpx.Response:
    return await client.post(
        "/api/media", headers=auth, files={"file": (path.name, path.read_bytes())}
    )


def media_rows(settings: Settings) -> list[str]:
    with contextlib.closing(
        sqlite3.connect(settings.database_url.removeprefix("sqlite:///"))
    ) as db:
        return [name for (name,) in db.execute("SELECT filename FROM media ORDER BY created_at")]


def stored_files(settings: Settings) -> list[Path]:
    return [p for p in settings.media_root.rglob("*") if p.is_file()]


def refusal(response: httpx.Response) -> tuple[int, str, str]:
    found = response.json()["error"]
    return response.status_code, found["code"], found["message"]


async def test_an_upload_past_the_storage_quota_is_413_naming_it(serve, settings, tmp_path):  # type: ignore[no-untyped-def]
    first = tone(tmp_path / "first.wav", seconds=2.0)  # ~176 KB of PCM
    second = tone(tmp_path / "second.wav", seconds=2.0)
    quota_bytes = first.stat().st_size + 100 * 1024
    async with serve(replace(settings, quota_storage_bytes=quota_bytes)) as client:
        auth = await register(client)
        assert (await upload(client, auth, first)).status_code == 201
        status, code, message = refusal(await upload(client, auth, second))
        # Someone else's storage is their own.
        other = await register(client, "grace@example.com")
        assert (await upload(client, other, second)).status_code == 201

    assert (status, code) == (413, "quota_exceeded")
    assert message.startswith(f"Over your storage quota ({quota_bytes / 1024:.1f} KiB): you use")
    assert media_rows(settings) == ["first.wav", "second.wav"]
    assert len(stored_files(settings)) == 2


async def test_a_full_account_is_refused_before_its_upload_is_read(serve, settings, tmp_path):  # type: ignore[no-untyped-def]
    clip = tone(tmp_path / "a.wav")
    sent = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal sent
        for chunk in (b"--b\r\nContent-Disposition: form-data; ", b'name="file"\r\n\r\n'):
            sent += 1
            yield chunk
        for _ in range(1000):
            sent += 1
            yield b"\0" * 65536

    async with serve(replace(settings, quota_storage_bytes=clip.stat().st_size)) as client:
        auth = await register(client)
        assert (await upload(client, auth, clip)).status_code == 201
        status, code, message = refusal(
            await client.post(
                "/api/media",
                headers={**auth, "content-type": "multipart/form-data; boundary=b"},
                content=body(),
            )
        )
    assert (status, code) == (413, "quota_exceeded")
    assert "storage quota" in message
    assert sent == 0
    assert len(stored_files(settings)) == 1


async def test_the_media_files_quota_counts_files(serve, settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    async with serve(replace(settings, quota_media_files=2)) as client:
        auth = await register(client)
        for name in ("1.wav", "2.wav"):
            assert (await upload(client, auth, tone(tmp_path / name))).status_code == 201
        status, code, message = refusal(await upload(client, auth, tone(tmp_path / "3.wav")))
        # Deleting one makes room again.
        listed = (await client.get("/api/media", headers=auth)).json()["items"]
        await client.delete(f"/api/media/{listed[0]['id']}", headers=auth)
        again = await upload(client, auth, tone(tmp_path / "4.wav"))

    assert (status, code) == (413, "quota_exceeded")
    assert message == (
        "You have 2 files, as many as your media files quota (2) allows; delete some first."
    )
    assert again.status_code == 201
    assert sorted(media_rows(settings)) == ["1.wav", "4.wav"]
    assert len(stored_files(settings)) == 2


async def test_the_duration_quota_is_checked_before_the_file_is_measured(  # type: ignore[no-untyped-def]
    serve, settings, tmp_path
) -> None:
    async with serve(replace(settings, quota_media_duration_s=3.0)) as client:
        auth = await register(client)
        assert (await upload(client, auth, tone(tmp_path / "a.wav", seconds=2))).status_code == 201
        status, code, message = refusal(
            await upload(client, auth, tone(tmp_path / "b.wav", seconds=2))
        )
    assert (status, code) == (413, "quota_exceeded")
    assert message == (
        "Over your media duration quota (3 s): you have 2 s and this file is 2 s; "
        "delete some media first."
    )
    assert media_rows(settings) == ["a.wav"]
    assert len(stored_files(settings)) == 1


async def test_the_quota_holds_for_uploads_racing_through_two_servers(settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    # Two apps on one database, as two `podplus serve` processes would be: the count comes
    # from the database when the row is written, not from what either process saw.
    # Analysis slots are shared by the two servers: four, so the quota is what refuses.
    one_file = replace(settings, quota_media_files=1, max_analyses_per_user=4, run_jobs=False)
    apps = [create_app(one_file), create_app(one_file)]
    async with contextlib.AsyncExitStack() as stack:
        clients = []
        for app in apps:
            await stack.enter_async_context(app.router.lifespan_context(app))
            transport = httpx.ASGITransport(app=app)
            clients.append(
                await stack.enter_async_context(
                    httpx.AsyncClient(transport=transport, base_url="http://t")
                )
            )
        auth = await register(clients[0])
        answers = await asyncio.gather(
            *(
                upload(client, auth, tone(tmp_path / f"{n}.wav"))
                for n, client in enumerate(clients * 2)
            )
        )

    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [201, 413, 413, 413]
    assert all(
        answer.json()["error"]["code"] == "quota_exceeded"
        for answer in answers
        if answer.status_code == 413
    )
    assert len(media_rows(settings)) == 1
    assert len(stored_files(settings)) == 1

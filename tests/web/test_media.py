"""``/api/media``: uploads stream to disk, are probed, and belong to their owner."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from podplus.settings import Settings
from tests.conftest import register
from tests.media_files import image, tone


def stored_files(settings: Settings) -> list[Path]:
    return [p for p in settings.media_root.rglob("*") if p.is_file()]


async def upload(
    client: httpx.AsyncClient, auth: dict[str, str], path: Path, kind: str | None = None
) -> httpx.Response:
    data = {"kind": kind} if kind else {}
    return await client.post(
        "/api/media", headers=auth, files={"file": (path.name, path.read_bytes())}, data=data
    )


async def test_an_audio_upload_is_probed_and_measured(client, auth, tmp_path) -> None:  # type: ignore[no-untyped-def]
    clip = tone(tmp_path / "take one.flac", seconds=2.5, sample_rate=48000, channels=2)
    response = await upload(client, auth, clip)
    assert response.status_code == 201
    body = response.json()
    assert body["filename"] == "take one.flac"
    assert body["kind"] == "content"
    assert body["codec"] == "flac"
    assert body["sample_rate"] == 48000
    assert body["channels"] == 2
    assert body["duration_s"] == pytest.approx(2.5, abs=0.05)
    assert body["size_bytes"] == clip.stat().st_size
    # lavfi's sine is -18 dBFS peak; -20 dB more, mono-summed loudness around -38 LUFS.
    assert -45 < body["loudness_lufs"] < -30


async def test_the_stored_file_is_named_by_id_never_by_the_client(client, auth, settings, tmp_path):  # type: ignore[no-untyped-def]
    clip = tone(tmp_path / "clip.wav")
    response = await client.post(
        "/api/media",
        headers=auth,
        files={"file": ("../../etc/passwd.wav", clip.read_bytes())},
    )
    assert response.status_code == 201
    assert response.json()["filename"] == "passwd.wav"
    names = [p.name for p in stored_files(settings)]
    assert names == [response.json()["id"]]


async def test_a_cover_is_an_image_with_no_audio_fields(client, auth, tmp_path) -> None:  # type: ignore[no-untyped-def]
    response = await upload(client, auth, image(tmp_path / "cover.jpg"), kind="cover")
    assert response.status_code == 201
    body = response.json()
    assert body["kind"] == "cover"
    assert body["codec"] == "mjpeg"
    assert body["duration_s"] is None and body["sample_rate"] is None


async def test_text_is_refused_with_415_and_leaves_no_file(client, auth, settings, tmp_path):  # type: ignore[no-untyped-def]
    notes = tmp_path / "notes.txt"
    notes.write_text("these are show notes, not audio\n" * 20)
    response = await upload(client, auth, notes)
    assert response.status_code == 415
    message = response.json()["error"]["message"]
    assert "audio" in message
    assert str(settings.media_root) not in message
    assert stored_files(settings) == []


async def test_audio_sent_as_a_cover_is_415(client, auth, tmp_path) -> None:  # type: ignore[no-untyped-def]
    response = await upload(client, auth, tone(tmp_path / "a.wav"), kind="cover")
    assert response.status_code == 415
    assert "image" in response.json()["error"]["message"]


async def test_an_unknown_kind_is_422(client, auth, tmp_path) -> None:  # type: ignore[no-untyped-def]
    response = await upload(client, auth, tone(tmp_path / "a.wav"), kind="podcast")
    assert response.status_code == 422
    assert "kind" in response.json()["error"]["message"]


async def test_an_upload_over_the_limit_is_413_and_leaves_no_file(tmp_path) -> None:
    from dataclasses import replace

    from podplus.app import create_app
    from tests.conftest import TEST_SECRET_KEY

    settings = Settings(
        data_dir=tmp_path,
        database_url=f"sqlite:///{tmp_path / 'db.sqlite'}",
        media_root=tmp_path / "media",
        scratch_dir=tmp_path / "scratch",
        secret_key=TEST_SECRET_KEY,
        max_upload_bytes=1024 * 1024,
    )
    app = create_app(replace(settings, run_jobs=False))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            auth = await register(client)
            big = tone(tmp_path / "long.wav", seconds=30)  # ~2.6 MB of PCM
            response = await upload(client, auth, big)

            # Without a Content-Length the limit still holds, counted while streaming.
            async def chunks():  # type: ignore[no-untyped-def]
                boundary = b"xyz"
                yield b"--xyz\r\nContent-Disposition: form-data; "
                yield b'name="file"; filename="a.wav"\r\n\r\n'
                for _ in range(40):
                    yield b"\0" * 65536
                yield b"\r\n--" + boundary + b"--\r\n"

            streamed = await client.post(
                "/api/media",
                headers={**auth, "content-type": "multipart/form-data; boundary=xyz"},
                content=chunks(),
            )
    assert response.status_code == 413
    assert "1 MB" in response.json()["error"]["message"]
    assert streamed.status_code == 413
    assert [p for p in settings.media_root.rglob("*") if p.is_file()] == []


async def test_a_body_that_is_not_multipart_is_400(client, auth) -> None:  # type: ignore[no-untyped-def]
    response = await client.post("/api/media", headers=auth, json={"file": "nope"})
    assert response.status_code == 400


async def test_listing_is_newest_first_and_only_the_callers(client, auth, tmp_path) -> None:  # type: ignore[no-untyped-def]
    first = (await upload(client, auth, tone(tmp_path / "1.wav"))).json()
    second = (await upload(client, auth, tone(tmp_path / "2.wav"))).json()
    other = await register(client, "grace@example.com")
    await upload(client, other, tone(tmp_path / "3.wav"))
    listed = (await client.get("/api/media", headers=auth)).json()["items"]
    assert [item["id"] for item in listed] == [second["id"], first["id"]]


async def test_another_users_media_is_404_everywhere(client, auth, tmp_path) -> None:  # type: ignore[no-untyped-def]
    mine = (await upload(client, auth, tone(tmp_path / "1.wav"))).json()
    other = await register(client, "grace@example.com")
    assert (await client.get(f"/api/media/{mine['id']}", headers=other)).status_code == 404
    assert (await client.delete(f"/api/media/{mine['id']}", headers=other)).status_code == 404
    assert (await client.get(f"/api/media/{mine['id']}", headers=auth)).status_code == 200


async def test_delete_removes_row_and_file(client, auth, settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    item = (await upload(client, auth, tone(tmp_path / "1.wav"))).json()
    assert (await client.delete(f"/api/media/{item['id']}", headers=auth)).status_code == 204
    assert (await client.get(f"/api/media/{item['id']}", headers=auth)).status_code == 404
    assert stored_files(settings) == []


async def test_media_needs_a_token(client) -> None:  # type: ignore[no-untyped-def]
    response = await client.get("/api/media")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"

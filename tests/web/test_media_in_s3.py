"""Media in an S3 store (``PODPLUS_STORAGE_URL=s3://…``, a real ``weed mini``): uploads go
to the bucket, not the media folder; episodes are assembled, published and served with
byte ranges from it; a store that does not answer is a clean 503, leaving nothing."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from podplus.settings import Settings
from podplus.storage.objects import episode_key, open_object_store, public_audio_key
from tests.conftest import free_port, register
from tests.media_files import tone
from tests.publishing import make_show, picture, publish, put_artwork, ready_episode, serving

pytestmark = pytest.mark.slow


def stored_files(settings: Settings) -> list[str]:
    """What is on the local disk besides the database: folders only, on S3."""
    root = settings.media_root
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def audio_name(settings: Settings, episode_id: str) -> str:
    with sqlite3.connect(settings.database_url.removeprefix("sqlite:///")) as database:
        row = database.execute("SELECT audio_name FROM episodes WHERE id = ?", (episode_id,))
        return str(row.fetchone()[0])


async def test_media_lives_in_the_bucket_and_is_served_from_it_with_ranges(
    s3_settings: Settings, tmp_path: Path
) -> None:
    objects = open_object_store(s3_settings)
    async with serving(s3_settings) as client:
        auth = await register(client)
        show = await make_show(client, auth)
        episode = await ready_episode(client, auth, tmp_path, show_id=show["id"])
        # The parts and the assembled audio are objects; the media folder keeps none.
        audio_key = episode_key(audio_name(s3_settings, episode["id"]))
        assert await objects.stat(audio_key) is not None
        assert stored_files(s3_settings) == []

        studio = await client.get(f"/api/episodes/{episode['id']}/audio", headers=auth)
        assert studio.status_code == 200 and studio.headers["accept-ranges"] == "bytes"
        size = len(studio.content)
        assert studio.headers["content-length"] == str(size) > "0"
        assert studio.content[:3] == b"ID3" or studio.content[:2] == b"\xff\xfb"

        published = await publish(client, auth, episode["id"])
        assert published.status_code == 200, published.text
        url = published.json()["publication"]["audio_url"]
        name = url.rsplit("/", 1)[1]
        assert await objects.stat(public_audio_key(name)) is not None

        whole = await client.get(url)
        assert whole.status_code == 200 and whole.content == studio.content
        assert whole.headers["content-type"] == "audio/mpeg"
        middle = await client.get(url, headers={"Range": "bytes=100-199"})
        assert middle.status_code == 206 and middle.content == whole.content[100:200]
        assert middle.headers["content-range"] == f"bytes 100-199/{size}"
        assert middle.headers["content-length"] == "100"
        tail = await client.get(url, headers={"Range": "bytes=-10"})
        assert tail.status_code == 206 and tail.content == whole.content[-10:]
        past = await client.get(url, headers={"Range": f"bytes={size}-"})
        assert past.status_code == 416 and past.headers["content-range"] == f"bytes */{size}"
        assert past.json()["error"]["code"] == "range_not_satisfiable"
        head = await client.head(url)
        assert head.status_code == 200 and head.content == b""
        assert head.headers["content-length"] == str(size)

        artwork = await put_artwork(client, auth, show["id"], picture(tmp_path / "a.png"))
        assert artwork.status_code == 200, artwork.text
        image = await client.get(artwork.json()["artwork_url"])
        assert image.status_code == 200 and image.content[:4] == b"\x89PNG"

        # An object gone from the bucket behind podplus's back is a 404, not a 500.
        await objects.delete(audio_key)
        gone = await client.get(f"/api/episodes/{episode['id']}/audio", headers=auth)
        assert gone.status_code == 404 and gone.json()["error"]["code"] == "not_found"

        # Deleting takes the objects with the rows.
        assert (
            await client.delete(f"/api/episodes/{episode['id']}", headers=auth)
        ).status_code == 204
        assert await objects.stat(audio_key) is None
        assert await objects.stat(public_audio_key(name)) is None
        assert stored_files(s3_settings) == []


async def test_a_store_that_does_not_answer_is_a_503_and_leaves_nothing(
    s3_settings: Settings, tmp_path: Path
) -> None:
    dead = replace(s3_settings, s3_endpoint=f"http://127.0.0.1:{free_port()}", s3_timeout_s=1.0)
    async with serving(dead) as client:
        auth = await register(client)
        take = tone(tmp_path / "take.wav", seconds=1.0)
        refused = await client.post(
            "/api/media",
            headers=auth,
            files={"file": (take.name, take.read_bytes())},
            data={"kind": "content"},
        )
        assert refused.status_code == 503
        assert refused.headers["content-type"] == "application/json"
        assert int(refused.headers["retry-after"]) >= 1
        error = refused.json()["error"]
        assert error["code"] == "store_unavailable"
        assert "127.0.0.1" not in error["message"] and "podplus-test" not in error["message"]
        listed = await client.get("/api/media", headers=auth)
        assert listed.json()["items"] == []
        assert stored_files(dead) == []

        show = await make_show(client, auth)
        artwork = await put_artwork(client, auth, show["id"], picture(tmp_path / "a.png"))
        assert artwork.status_code == 503
        assert (await client.get(f"/api/shows/{show['id']}", headers=auth)).json()[
            "artwork_url"
        ] is None
        assert stored_files(dead) == []

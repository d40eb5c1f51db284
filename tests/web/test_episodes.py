"""``/api/episodes``: descriptions of episodes, validated field by field, owned by their maker."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import register
from tests.media_files import image, tone


@pytest.fixture
async def clips(client: httpx.AsyncClient, auth: dict[str, str], tmp_path) -> dict[str, str]:  # type: ignore[no-untyped-def]
    ids = {}
    for name, kind in (("intro", "intro"), ("take", "content"), ("bed", "music")):
        path = tone(tmp_path / f"{name}.wav", seconds=1.5)
        response = await client.post(
            "/api/media",
            headers=auth,
            files={"file": (path.name, path.read_bytes())},
            data={"kind": kind},
        )
        ids[name] = response.json()["id"]
    cover = image(tmp_path / "cover.png")
    response = await client.post(
        "/api/media",
        headers=auth,
        files={"file": (cover.name, cover.read_bytes())},
        data={"kind": "cover"},
    )
    ids["cover"] = response.json()["id"]
    return ids


async def test_a_new_episode_is_a_draft_with_its_description(client, auth, clips) -> None:  # type: ignore[no-untyped-def]
    response = await client.post(
        "/api/episodes",
        headers=auth,
        json={
            "title": "Episode 12",
            "description": "We talk about tests.",
            "intro_id": clips["intro"],
            "segments": [{"media_id": clips["take"], "trim_start_s": 0.2, "gain_db": -1}],
            "music_bed": {"media_id": clips["bed"], "gain_db": -20, "duck": True},
            "crossfade_s": 0.5,
            "loudness": {"target_lufs": -16, "true_peak_db": -1},
            "output": {"format": "m4a", "bitrate_kbps": 96},
            "tags": {"artist": "Ada", "year": 2026},
            "cover_id": clips["cover"],
        },
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "draft"
    assert body["job"] is None and body["audio_url"] is None
    # Every field comes back, with the defaults filled in for what wasn't sent.
    assert body["segments"] == [
        {
            "media_id": clips["take"], "trim_start_s": 0.2, "trim_end_s": None, "gain_db": -1,
            "content": None,
        }
    ]  # fmt: skip
    assert body["music_bed"] == {"media_id": clips["bed"], "gain_db": -20, "duck": True}
    assert body["output"] == {
        "format": "m4a", "bitrate_kbps": 96, "channels": 1, "sample_rate": 44100
    }  # fmt: skip
    assert (body["crossfade_s"], body["trim_silence"], body["chapters"]) == (0.5, False, True)
    fetched = await client.get(f"/api/episodes/{body['id']}", headers=auth)
    assert fetched.json() == body


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"title": ""}, "title"),
        ({"segments": []}, "segments"),
        ({"segments": [{"media_id": "missing"}]}, "segments[0].media_id"),
        ({"segments": [{"media_id": "TAKE", "trim_start_s": -1}]}, "segments[0].trim_start_s"),
        (
            {"segments": [{"media_id": "TAKE", "trim_start_s": 2, "trim_end_s": 1}]},
            "segments[0].trim_end_s",
        ),
        ({"intro_id": "missing"}, "intro_id"),
        ({"cover_id": "TAKE"}, "cover_id"),
        ({"music_bed": {"media_id": "COVER"}}, "music_bed.media_id"),
        ({"output": {"format": "ogg"}}, "output.format"),
        ({"loudness": {"target_lufs": "loud"}}, "loudness.target_lufs"),
        ({"crossfade_s": 99}, "crossfade_s"),
        ({"surprise": 1}, "surprise"),
    ],
)
async def test_bad_descriptions_are_422_naming_the_field(client, auth, clips, change, field):  # type: ignore[no-untyped-def]
    body = {"title": "Ep", "segments": [{"media_id": clips["take"]}], **change}
    response = await client.post("/api/episodes", headers=auth, json=_with_ids(body, clips))
    assert response.status_code == 422, response.text
    assert response.json()["error"]["message"].startswith(f"{field}:")


def _with_ids(value, clips):  # type: ignore[no-untyped-def]
    """Swap the placeholders TAKE and COVER for the real media ids."""
    if isinstance(value, dict):
        return {key: _with_ids(item, clips) for key, item in value.items()}
    if isinstance(value, list):
        return [_with_ids(item, clips) for item in value]
    return clips.get(value.lower(), value) if value in ("TAKE", "COVER") else value


async def test_someone_elses_media_is_422_as_if_missing(client, auth, clips) -> None:  # type: ignore[no-untyped-def]
    other = await register(client, "grace@example.com")
    response = await client.post(
        "/api/episodes",
        headers=other,
        json={"title": "x", "segments": [{"media_id": clips["take"]}]},
    )
    assert response.status_code == 422
    assert "segments[0].media_id" in response.json()["error"]["message"]


async def test_patch_changes_only_what_it_names(client, auth, clips) -> None:  # type: ignore[no-untyped-def]
    created = (
        await client.post(
            "/api/episodes",
            headers=auth,
            json={"title": "Ep", "segments": [{"media_id": clips["take"]}], "crossfade_s": 0.5},
        )
    ).json()
    patched = await client.patch(
        f"/api/episodes/{created['id']}", headers=auth, json={"title": "Better title"}
    )
    assert patched.status_code == 200
    assert patched.json()["title"] == "Better title"
    assert patched.json()["crossfade_s"] == 0.5
    bad = await client.patch(
        f"/api/episodes/{created['id']}", headers=auth, json={"segments": "nope"}
    )
    assert bad.status_code == 422


async def test_list_get_delete_are_scoped_to_the_owner(client, auth, clips) -> None:  # type: ignore[no-untyped-def]
    created = (
        await client.post(
            "/api/episodes",
            headers=auth,
            json={"title": "Ep", "segments": [{"media_id": clips["take"]}]},
        )
    ).json()
    other = await register(client, "grace@example.com")
    assert (await client.get("/api/episodes", headers=other)).json()["items"] == []
    for method in ("GET", "PATCH", "DELETE"):
        response = await client.request(
            method, f"/api/episodes/{created['id']}", headers=other, json={"title": "x"}
        )
        assert response.status_code == 404, method
    assert (
        await client.post(f"/api/episodes/{created['id']}/assemble", headers=other)
    ).status_code == 404
    assert (
        await client.get(f"/api/episodes/{created['id']}/audio", headers=other)
    ).status_code == 404
    listed = (await client.get("/api/episodes", headers=auth)).json()["items"]
    assert [item["id"] for item in listed] == [created["id"]]
    assert (await client.delete(f"/api/episodes/{created['id']}", headers=auth)).status_code == 204
    assert (await client.get(f"/api/episodes/{created['id']}", headers=auth)).status_code == 404


async def test_audio_is_404_until_ready(client, auth, clips) -> None:  # type: ignore[no-untyped-def]
    created = (
        await client.post(
            "/api/episodes",
            headers=auth,
            json={"title": "Ep", "segments": [{"media_id": clips["take"]}]},
        )
    ).json()
    response = await client.get(f"/api/episodes/{created['id']}/audio", headers=auth)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"

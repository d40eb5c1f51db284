"""``POST /api/productions``: files, show, title and options in; the media stored, the
episode described and its assembly queued in one answer, 202. Every refusal names the part
that failed and leaves nothing behind: no media row, no file on disk, no episode, no job."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from podplus.app import create_app
from podplus.settings import Settings
from tests.conftest import register
from tests.media_files import image, tone
from tests.publishing import make_show, upload_audio

FileParts = list[tuple[str, tuple[str, bytes]]]


@dataclass
class Served:
    client: httpx.AsyncClient
    auth: dict[str, str]
    app: Any


@contextlib.asynccontextmanager
async def serving(settings: Settings, **overrides: Any) -> AsyncIterator[Served]:
    """An in-process app that queues jobs but runs none (the engine is not the point here)."""
    app = create_app(replace(settings, run_jobs=False, **overrides))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            yield Served(client, await register(client), app)


@pytest.fixture
def clips(tmp_path: Path) -> dict[str, Path]:
    return {
        "take1": tone(tmp_path / "take1.wav", seconds=1.0),
        "take2": tone(tmp_path / "take2.wav", seconds=1.0, frequency_hz=660),
        "sting": tone(tmp_path / "sting.wav", seconds=0.5, frequency_hz=880),
        "bed": tone(tmp_path / "bed.wav", seconds=1.0, frequency_hz=220),
        "cover": image(tmp_path / "cover.png"),
    }


def part(name: str, path: Path) -> tuple[str, tuple[str, bytes]]:
    return (name, (path.name, path.read_bytes()))


async def produce(
    served: Served, files: FileParts, **fields: str | dict[str, Any]
) -> httpx.Response:
    data = {k: json.dumps(v) if isinstance(v, dict) else v for k, v in fields.items()}
    return await served.client.post("/api/productions", headers=served.auth, files=files, data=data)


def error(response: httpx.Response) -> tuple[int, str, str]:
    found = response.json()["error"]
    return response.status_code, found["code"], found["message"]


def stored(settings: Settings) -> dict[str, int]:
    """What the refused requests must not have left: rows, and files under the media root."""
    with contextlib.closing(
        sqlite3.connect(settings.database_url.removeprefix("sqlite:///"))
    ) as db:
        counts = {
            table: db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("media", "episodes", "episode_media", "jobs")
        }
    counts["files"] = sum(1 for p in settings.media_root.rglob("*") if p.is_file())
    return counts


NOTHING = {"media": 0, "episodes": 0, "episode_media": 0, "jobs": 0, "files": 0}


async def test_files_become_the_episode_and_its_assembly_is_queued_in_one_answer(
    settings: Settings, clips: dict[str, Path]
) -> None:
    async with serving(settings) as served:
        response = await produce(
            served,
            [
                part("files", clips["take1"]),
                part("intro", clips["sting"]),
                part("files", clips["take2"]),
                part("music_bed", clips["bed"]),
            ],
            title="Pilot",
            options={
                "description": "Show notes.",
                "music_bed": {"gain_db": -25, "duck": False},
                "output": {"format": "m4a"},
            },
        )
        assert response.status_code == 202, response.text
        body = response.json()
        media = {
            item["id"]: item
            for item in (await served.client.get("/api/media", headers=served.auth)).json()["items"]
        }
        job = (await served.client.get(response.headers["location"], headers=served.auth)).json()

    episode = body["episode"]
    assert (episode["title"], episode["description"], episode["status"]) == (
        "Pilot", "Show notes.", "queued",
    )  # fmt: skip
    assert body["job"]["status"] == "queued" and episode["job"]["id"] == body["job"]["id"]
    assert job["id"] == body["job"]["id"] and job["episode_id"] == episode["id"]
    # The files in the order sent, each stored as the kind its part says.
    segments = [media[s["media_id"]] for s in episode["segments"]]
    assert [(m["filename"], m["kind"]) for m in segments] == [
        ("take1.wav", "content"), ("take2.wav", "content"),
    ]  # fmt: skip
    assert (media[episode["intro_id"]]["filename"], media[episode["intro_id"]]["kind"]) == (
        "sting.wav", "intro",
    )  # fmt: skip
    bed = episode["music_bed"]
    assert (media[bed["media_id"]]["kind"], bed["gain_db"], bed["duck"]) == ("music", -25, False)
    assert episode["output"]["format"] == "m4a"
    # Measured like any upload.
    assert all(m["loudness_lufs"] is not None and m["duration_s"] > 0 for m in media.values())
    assert stored(settings) == {
        "media": 4, "episodes": 1, "episode_media": 4, "jobs": 1, "files": 4,
    }  # fmt: skip


async def test_the_title_defaults_to_the_first_file_s_name(
    settings: Settings, clips: dict[str, Path]
) -> None:
    async with serving(settings) as served:
        response = await produce(served, [part("files", clips["take1"])])
    assert response.status_code == 202, response.text
    assert response.json()["episode"]["title"] == "take1"


async def test_a_show_s_defaults_apply_as_when_an_episode_is_described(
    settings: Settings, clips: dict[str, Path]
) -> None:
    async with serving(settings) as served:
        outro_id = await upload_audio(served.client, served.auth, clips["sting"], "outro")
        show = await make_show(
            served.client,
            served.auth,
            defaults={
                "outro_id": outro_id,
                "output": {"format": "m4a", "bitrate_kbps": 96},
                "tags": {"artist": "Ada", "album": "The Engine Room"},
            },
        )
        response = await produce(
            served,
            [part("files", clips["take1"])],
            show_id=show["id"],
            options={"output": {"bitrate_kbps": 160}, "tags": {"album": "Special"}},
        )
    assert response.status_code == 202, response.text
    episode = response.json()["episode"]
    assert episode["show_id"] == show["id"]
    assert episode["outro_id"] == outro_id
    # Blocks key by key, the production's own keys winning.
    assert (episode["output"]["format"], episode["output"]["bitrate_kbps"]) == ("m4a", 160)
    assert episode["tags"] == {"artist": "Ada", "album": "Special"}


@pytest.mark.parametrize(
    ("parts", "fields", "answer"),
    [
        (
            ["take1", "cover"],
            {},
            (415, "unsupported_media", "files[1]: The upload can't be read as an audio file"),
        ),
        (["take1", ("intro", "cover")], {}, (415, "unsupported_media", "intro: The upload")),
        ([("intro", "take1")], {}, (422, "invalid_input", "files: send the audio as one or")),
        (["take1"], {"options": "{nope"}, (422, "invalid_input", "options: not valid JSON")),
        (["take1"], {"options": "[1]"}, (422, "invalid_input", "options: must be a JSON object")),
        (
            ["take1"],
            {"options": {"loudness": {"target_lufs": -3}}},
            (422, "invalid_input", "options.loudness.target_lufs: must be a number ≤ -5"),
        ),
        (
            ["take1"],
            {"options": {"segments": []}},
            (422, "invalid_input", "options.segments: the `files` parts are the segments"),
        ),
        (
            ["take1"],
            {"options": {"show_id": "x"}},
            (422, "invalid_input", "options.show_id: unknown field"),
        ),
        (
            ["take1", ("intro", "sting")],
            {"options": {"intro_id": None}},
            (422, "invalid_input", "intro: sent as a file and as options.intro_id"),
        ),
        (
            ["take1", ("music_bed", "bed")],
            {"options": {"music_bed": None}},
            (422, "invalid_input", "music_bed: sent as a file and as options.music_bed"),
        ),
        (
            ["take1"],
            {"title": "Pilot", "options": {"title": "Other"}},
            (422, "invalid_input", "title: sent as a part and as options.title"),
        ),
        (["take1"], {"title": "two\nlines"}, (422, "invalid_input", "title: must be one line")),
        (
            ["take1"],
            {"show_id": "0123456789abcdef0123456789abcdef"},
            (422, "invalid_input", "show_id: no show with id"),
        ),
        (
            ["take1"],
            {"options": {"cover_id": "0123456789abcdef0123456789abcdef"}},
            (422, "invalid_input", "cover_id: no media with id"),
        ),
        (["take1"], {"kind": "intro"}, (422, "invalid_input", "'kind': not a field of this form")),
        (
            ["take1", ("outro", "sting"), ("outro", "sting")],
            {},
            (422, "invalid_input", "outro: sent more than once"),
        ),
    ],
)
async def test_a_refusal_names_the_part_and_leaves_nothing_behind(
    settings: Settings,
    clips: dict[str, Path],
    parts: list[str | tuple[str, str]],
    fields: dict[str, Any],
    answer: tuple[int, str, str],
) -> None:
    files = [
        part("files", clips[p]) if isinstance(p, str) else part(p[0], clips[p[1]]) for p in parts
    ]
    async with serving(settings) as served:
        status, code, message = error(await produce(served, files, **fields))
    assert (status, code) == answer[:2], message
    assert message.startswith(answer[2]), message
    assert stored(settings) == NOTHING


async def test_past_the_storage_quota_at_the_second_file_nothing_is_kept(
    settings: Settings, clips: dict[str, Path]
) -> None:
    quota_bytes = clips["take1"].stat().st_size + 1024
    async with serving(settings, quota_storage_bytes=quota_bytes) as served:
        refused = await produce(
            served, [part("files", clips["take1"]), part("files", clips["take2"])]
        )
        # The first file alone fits: the quota counted nothing the refusal left.
        alone = await produce(served, [part("files", clips["take1"])])
    status, code, message = error(refused)
    assert (status, code) == (413, "quota_exceeded")
    assert message.startswith("files[1]: Over your storage quota (")
    assert alone.status_code == 202, alone.text
    assert stored(settings)["media"] == 1


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"quota_media_files": 1},
            "files[1]: You have 1 files, as many as your media files quota (1) allows",
        ),
        (
            {"quota_media_duration_s": 1.5},
            "files[1]: Over your media duration quota (1.5 s): you have 1 s and this file is 1 s",
        ),
    ],
)
async def test_the_file_and_duration_quotas_count_the_files_before_in_the_same_request(
    settings: Settings, clips: dict[str, Path], overrides: dict[str, Any], message: str
) -> None:
    async with serving(settings, **overrides) as served:
        status, code, text = error(
            await produce(served, [part("files", clips["take1"]), part("files", clips["take2"])])
        )
    assert (status, code) == (413, "quota_exceeded")
    assert text.startswith(message), text
    assert stored(settings) == NOTHING


async def test_a_file_over_the_upload_limit_is_413_naming_it(
    settings: Settings, clips: dict[str, Path], tmp_path: Path
) -> None:
    big = tone(tmp_path / "big.wav", seconds=15.0)  # ~1.3 MB of PCM
    async with serving(settings, max_upload_bytes=1024 * 1024) as served:
        status, code, message = error(
            await produce(served, [part("files", clips["take1"]), part("files", big)])
        )
    assert (status, code, message) == (
        413, "payload_too_large", "files[1]: The file is larger than the 1 MB limit.",
    )  # fmt: skip
    assert stored(settings) == NOTHING


async def test_at_the_active_jobs_quota_it_is_429_before_the_body_is_read(
    settings: Settings, clips: dict[str, Path]
) -> None:
    sent = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal sent
        for _ in range(100):
            sent += 1
            yield b"\0" * 65536

    async with serving(settings, max_active_jobs_per_user=1) as served:
        first = await produce(served, [part("files", clips["take1"])])
        assert first.status_code == 202, first.text
        before = stored(settings)
        status, code, message = error(
            await served.client.post(
                "/api/productions",
                headers={**served.auth, "content-type": "multipart/form-data; boundary=b"},
                content=body(),
            )
        )
        again = await produce(served, [part("files", clips["take2"])])
    assert (status, code) == (429, "quota_exceeded")
    assert message.startswith("You have 1 jobs queued or running")
    assert sent == 0
    assert error(again)[:2] == (429, "quota_exceeded")
    assert stored(settings) == before


async def test_two_racing_for_the_last_job_place_leave_one_production(
    settings: Settings, clips: dict[str, Path]
) -> None:
    # Both may pass the check before the body is read; the queue itself (in the same
    # transaction as the media and the episode) lets one through and rolls the other back.
    async with serving(settings, max_active_jobs_per_user=1) as served:
        answers = await asyncio.gather(
            produce(served, [part("files", clips["take1"]), part("intro", clips["sting"])]),
            produce(served, [part("files", clips["take2"]), part("outro", clips["sting"])]),
        )
    assert sorted(a.status_code for a in answers) == [202, 429], [a.text for a in answers]
    assert stored(settings) == {
        "media": 2, "episodes": 1, "episode_media": 2, "jobs": 1, "files": 2,
    }  # fmt: skip


async def test_with_the_analysis_slots_taken_it_is_429_with_retry_after(
    settings: Settings, clips: dict[str, Path]
) -> None:
    async with serving(settings, max_analyses_per_user=1) as served:
        me = (await served.client.get("/api/users/me", headers=served.auth)).json()
        async with served.app.state.services.analyzer.slot(me["id"]):
            refused = await produce(served, [part("files", clips["take1"])])
    status, code, _ = error(refused)
    assert (status, code) == (429, "too_many_requests")
    assert refused.headers["retry-after"].isdigit()
    assert stored(settings) == NOTHING


async def test_a_body_that_is_not_a_form_is_400(settings: Settings) -> None:
    async with serving(settings) as served:
        response = await served.client.post(
            "/api/productions", headers=served.auth, json={"files": []}
        )
    assert error(response)[:2] == (400, "bad_request")
    assert stored(settings) == NOTHING


async def test_someone_else_s_show_is_an_unknown_show(
    settings: Settings, clips: dict[str, Path]
) -> None:
    async with serving(settings) as served:
        other = await register(served.client, "grace@example.com")
        show = await make_show(served.client, other)
        status, _, message = error(
            await produce(served, [part("files", clips["take1"])], show_id=show["id"])
        )
    assert (status, message) == (422, f"show_id: no show with id {show['id']!r}.")
    assert stored(settings) == NOTHING

"""Every list answers a page at a time, ``{"items", "next"}``, on either database; a cursor
works only where it was given out, and a bad one is a 422 that names it, never a 500."""

from __future__ import annotations

import base64
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from podplus.settings import Settings
from tests.api import finished, new_episode, served, wait_for
from tests.conftest import register
from tests.media_files import tone

Auth = dict[str, str]


async def upload(client: httpx.AsyncClient, auth: Auth, path: Path) -> str:
    response = await client.post(
        "/api/media", headers=auth, files={"file": (path.name, path.read_bytes())}
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def describe(client: httpx.AsyncClient, auth: Auth, media_id: str, title: str) -> str:
    response = await client.post(
        "/api/episodes", headers=auth, json={"title": title, "segments": [{"media_id": media_id}]}
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def page(client: httpx.AsyncClient, auth: Auth, path: str, **params: Any) -> dict[str, Any]:
    response = await client.get(path, headers=auth, params=params)
    assert response.status_code == 200, response.text
    assert set(response.json()) == {"items", "next"}
    return response.json()  # type: ignore[no-any-return]


def refused(response: httpx.Response, field: str) -> bool:
    body = response.json()
    return (
        response.status_code == 422
        and body["error"]["code"] == "invalid_input"
        and body["error"]["message"].startswith(f"{field}:")
    )


async def test_120_episodes_paged_by_50_come_back_once_each_and_an_insert_changes_nothing(
    database_url: str, settings: Settings, tmp_path: Path
) -> None:
    async with served(replace(settings, database_url=database_url), "ok") as (client, auth):
        media_id = await upload(client, auth, tone(tmp_path / "take.wav"))
        created = [await describe(client, auth, media_id, f"Ep {n}") for n in range(120)]

        first = await page(client, auth, "/api/episodes", limit=50)
        added = await describe(client, auth, media_id, "Added while paging")
        seen, sizes, cursor = list(first["items"]), [len(first["items"])], first["next"]
        while cursor is not None:
            following = await page(client, auth, "/api/episodes", limit=50, cursor=cursor)
            seen += following["items"]
            sizes.append(len(following["items"]))
            cursor = following["next"]

        assert sizes == [50, 50, 20]
        assert [episode["id"] for episode in seen] == created[::-1]
        fresh = await page(client, auth, "/api/episodes")
        assert len(fresh["items"]) == 50 and fresh["items"][0]["id"] == added


async def test_uploads_and_jobs_are_paged_too(settings: Settings, tmp_path: Path) -> None:
    async with served(settings, "ok") as (client, auth):
        clip = tone(tmp_path / "take.wav")
        uploads = [await upload(client, auth, clip) for _ in range(3)]
        first = await page(client, auth, "/api/media", limit=2)
        rest = await page(client, auth, "/api/media", limit=2, cursor=first["next"])
        assert [item["id"] for item in first["items"] + rest["items"]] == uploads[::-1]
        assert rest["next"] is None

        jobs = []
        for _ in range(3):
            episode_id = await new_episode(client, auth, tmp_path)
            queued = await client.post(f"/api/episodes/{episode_id}/assemble", headers=auth)
            jobs.append(queued.json()["job_id"])
            await wait_for(client, auth, jobs[-1], finished)
        first = await page(client, auth, "/api/jobs", limit=2)
        rest = await page(client, auth, "/api/jobs", limit=2, cursor=first["next"])
        assert [job["id"] for job in first["items"] + rest["items"]] == jobs[::-1]
        assert rest["next"] is None


def tampered(cursor: str) -> str:
    """The cursor with its position moved by one digit, its signature left as it was."""
    payload, signature = cursor.split(".")
    decoded = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode()
    moved = decoded.replace("1", "2", 1) if "1" in decoded else decoded.replace("0", "1", 1)
    return base64.urlsafe_b64encode(moved.encode()).rstrip(b"=").decode() + "." + signature


async def test_a_bad_foreign_or_tampered_cursor_is_a_422_naming_it(
    database_url: str, settings: Settings, tmp_path: Path
) -> None:
    async with served(replace(settings, database_url=database_url), "ok") as (client, auth):
        other = await register(client, "grace@example.com")
        clip = tone(tmp_path / "take.wav")
        for who in (auth, other):
            media_id = await upload(client, who, clip)
            for n in range(2):
                await describe(client, who, media_id, f"Ep {n}")
        mine = (await page(client, auth, "/api/episodes", limit=1))["next"]
        theirs = (await page(client, other, "/api/episodes", limit=1))["next"]
        assert mine and theirs

        for cursor in (
            "garbage",
            "",
            "a.b",
            "x" * 5000,
            "\u00e9\u00e9.\u00e9",
            mine[:-1] + ("A" if mine[-1] != "A" else "B"),
            tampered(mine),
            theirs,  # another user's
        ):
            answer = await client.get("/api/episodes", headers=auth, params={"cursor": cursor})
            assert refused(answer, "cursor"), (cursor, answer.text)
        # One list's cursor is not another's.
        for path in ("/api/media", "/api/jobs"):
            answer = await client.get(path, headers=auth, params={"cursor": mine})
            assert refused(answer, "cursor"), (path, answer.text)
        # And the real one still works.
        assert (await page(client, auth, "/api/episodes", limit=1, cursor=mine))["items"]


@pytest.mark.parametrize("limit", ["0", "201", "-1", "abc", "1.5", "", "99999"])
async def test_a_limit_outside_1_to_200_is_a_422_naming_it(client, auth, limit: str) -> None:  # type: ignore[no-untyped-def]
    for path in ("/api/media", "/api/episodes", "/api/jobs"):
        answer = await client.get(path, headers=auth, params={"limit": limit})
        assert refused(answer, "limit"), (path, answer.text)


async def test_an_empty_list_is_one_page_with_no_next(client, auth) -> None:  # type: ignore[no-untyped-def]
    for path in ("/api/media", "/api/episodes", "/api/jobs"):
        assert (await page(client, auth, path)) == {"items": [], "next": None}

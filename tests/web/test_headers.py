"""Every answer says ``nosniff``; every JSON answer says ``no-store``: pages, API, audio,
errors, metrics, the 500 that no handler meant to give."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import httpx

from podplus.app import create_app
from podplus.settings import Settings
from podplus.storage.schema import media
from tests.api import finished, new_episode, served, wait_for
from tests.conftest import PASSWORD, register


def assert_headers(response: httpx.Response, *, json: bool) -> None:
    where = f"{response.request.method} {response.request.url.path} -> {response.status_code}"
    assert response.headers.get("x-content-type-options") == "nosniff", where
    is_json = response.headers.get("content-type", "").startswith("application/json")
    assert is_json == json, where
    if json:
        assert response.headers.get("cache-control") == "no-store", where


async def test_every_kind_of_answer_carries_the_headers(settings: Settings, tmp_path: Path) -> None:
    async with served(settings, "ok") as (client, auth):
        episode_id = await new_episode(client, auth, tmp_path)
        queued = await client.post(f"/api/episodes/{episode_id}/assemble", headers=auth)
        await wait_for(client, auth, queued.json()["job_id"], finished)
        audio = f"/api/episodes/{episode_id}/audio"
        signed = (await client.get(f"{audio}-url", headers=auth)).json()["url"]

        json_answers = [
            await client.get("/api/users/me", headers=auth),
            await client.get("/api/episodes", headers=auth),
            await client.get(f"/api/episodes/{episode_id}", headers=auth),
            await client.get(f"{audio}-url", headers=auth),
            await client.post(
                "/api/auth/token", data={"username": "ada@example.com", "password": PASSWORD}
            ),
            await client.get("/healthz"),
            await client.get("/openapi.json"),
            await client.get("/api/spec/episode"),
            # Refusals.
            await client.get("/api/users/me"),
            await client.get("/nothing/here"),
            await client.delete("/api/users/me", headers=auth),
            await client.get("/api/jobs", headers=auth, params={"limit": "0"}),
            await client.get(audio, headers={**auth, "Range": "bytes=99999999-"}),
            await client.get(signed + "0"),
        ]
        other_answers = [
            await client.get(audio, headers=auth),
            await client.get(audio, headers={**auth, "Range": "bytes=0-1"}),
            await client.get(signed),
            await client.head(signed),
            await client.get("/metrics"),
            await client.get("/"),
            await client.get("/studio"),
            await client.get("/static/js/api.js"),
        ]
    assert [answer.status_code for answer in json_answers] == [
        *[200] * 8,
        *(401, 404, 405, 422, 416, 403),
    ]
    for answer in json_answers:
        assert_headers(answer, json=True)
    assert [answer.status_code for answer in other_answers] == [200, 206, 200, 200, *[200] * 4]
    for answer in other_answers:
        assert_headers(answer, json=False)
    # The audio is one person's: a shared cache must not keep it.
    assert other_answers[0].headers["cache-control"] == "private"


async def test_an_unexpected_500_carries_them_too(settings: Settings) -> None:
    app = create_app(replace(settings, run_jobs=False))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            auth = await register(client)
            user = (await client.get("/api/users/me", headers=auth)).json()
            # A row no handler expects (a kind this version doesn't know): a bug's surprise.
            await app.state.services.database.execute(
                media.insert().values(
                    id="f" * 32,
                    owner_id=user["id"],
                    kind="hologram",
                    filename="x",
                    storage_name="f" * 32,
                    size_bytes=1,
                    created_at=0.0,
                )
            )
            answer = await client.get("/api/media", headers=auth)
    assert answer.status_code == 500
    assert answer.json()["error"]["code"] == "internal_error"
    assert_headers(answer, json=True)

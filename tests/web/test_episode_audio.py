"""The player's audio URL: signed for one file, short-lived, and never the user's token."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx

from podplus.security.signing import AudioLinks
from podplus.settings import Settings
from tests.api import finished, new_episode, served, wait_for
from tests.conftest import register

Auth = dict[str, str]


async def assembled(client: httpx.AsyncClient, auth: Auth, tmp_path: Path) -> str:
    episode_id = await new_episode(client, auth, tmp_path)
    queued = await client.post(f"/api/episodes/{episode_id}/assemble", headers=auth)
    job = await wait_for(client, auth, queued.json()["job_id"], finished)
    assert job["status"] == "succeeded"
    return episode_id


async def signed_url(client: httpx.AsyncClient, auth: Auth, episode_id: str) -> str:
    answer = await client.get(f"/api/episodes/{episode_id}/audio-url", headers=auth)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["url"])


def forbidden(response: httpx.Response) -> bool:
    return (
        response.status_code == 403
        and response.headers["content-type"] == "application/json"
        and response.json()["error"]["code"] == "forbidden"
    )


async def test_a_signed_url_plays_without_a_token_and_carries_none(
    settings: Settings, tmp_path: Path
) -> None:
    async with served(settings, "ok") as (client, auth):
        episode_id = await assembled(client, auth, tmp_path)
        answer = await client.get(f"/api/episodes/{episode_id}/audio-url", headers=auth)
        url, expires_at = answer.json()["url"], answer.json()["expires_at"]
        token = auth["Authorization"].split()[1]
        assert token not in url and "access_token" not in url
        assert set(parse_qs(urlsplit(url).query)) == {"expires", "sig"}
        lifetime_s = dt.datetime.fromisoformat(expires_at).timestamp() - time.time()
        assert 0 < lifetime_s <= settings.audio_link_ttl_s

        whole = await client.get(url)
        with_token = await client.get(f"/api/episodes/{episode_id}/audio", headers=auth)
        assert whole.status_code == 200 and whole.content == with_token.content
        assert whole.headers["content-type"] == "audio/mpeg"
        part = await client.get(url, headers={"Range": "bytes=2-5"})
        assert part.status_code == 206 and part.content == whole.content[2:6]
        head = await client.head(url)
        assert head.status_code == 200 and head.headers["content-length"] == str(len(whole.content))


async def test_the_token_in_the_query_string_is_no_longer_accepted(
    settings: Settings, tmp_path: Path
) -> None:
    async with served(settings, "ok") as (client, auth):
        episode_id = await assembled(client, auth, tmp_path)
        token = auth["Authorization"].split()[1]
        by_query = await client.get(f"/api/episodes/{episode_id}/audio?access_token={token}")
        assert by_query.status_code == 401
        document = (await client.get("/openapi.json")).json()
        assert set(document["components"]["securitySchemes"]) == {"bearer"}


async def test_an_expired_url_is_403_json(settings: Settings, tmp_path: Path) -> None:
    async with served(settings, "ok") as (client, auth):
        episode_id = await assembled(client, auth, tmp_path)
        url = await signed_url(client, auth, episode_id)
        assert (await client.get(url)).status_code == 200
        # The same link as this server would have issued a little over its lifetime ago.
        episode = (await client.get(f"/api/episodes/{episode_id}", headers=auth)).json()
        audio_name = f"{episode_id}-{episode['job']['id']}.mp3"
        then = time.time() - settings.audio_link_ttl_s - 1
        links = AudioLinks(
            secret_key=settings.secret_key, ttl_s=settings.audio_link_ttl_s, clock=lambda: then
        )
        old = links.issue(episode_id=episode_id, audio_name=audio_name)
        expired = await client.get(
            f"/media/episodes/{episode_id}",
            params={"expires": old.expires_at, "sig": old.signature},
        )
        assert forbidden(expired) and "expired" in expired.json()["error"]["message"]


async def test_a_tampered_url_is_403_json(settings: Settings, tmp_path: Path) -> None:
    async with served(settings, "ok") as (client, auth):
        episode_id = await assembled(client, auth, tmp_path)
        url = await signed_url(client, auth, episode_id)
        path = urlsplit(url).path
        query = {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}
        later = str(int(query["expires"]) + 3600)
        flipped = query["sig"][:-1] + ("A" if query["sig"][-1] != "A" else "B")
        for params in (
            {**query, "expires": later},  # a longer life than was signed
            {**query, "sig": flipped},
            {"expires": query["expires"]},
            {"sig": query["sig"]},
            {},
            {**query, "expires": "-1"},
            {**query, "expires": "9" * 40},
            {**query, "sig": "é" * 43},
        ):
            answer = await client.get(path, params=params)
            assert forbidden(answer), (params, answer.text)
        assert (await client.get(url)).status_code == 200


async def test_a_url_for_one_episode_fetches_no_other(settings: Settings, tmp_path: Path) -> None:
    async with served(settings, "ok") as (client, auth):
        first = await assembled(client, auth, tmp_path)
        second = await assembled(client, auth, tmp_path)
        query = urlsplit(await signed_url(client, auth, first)).query
        answer = await client.get(f"/media/episodes/{second}?{query}")
        assert forbidden(answer)
        gone = await client.get(f"/media/episodes/{'0' * 32}?{query}")
        assert forbidden(gone)


async def test_a_url_stops_working_when_the_episode_is_assembled_again(
    settings: Settings, tmp_path: Path
) -> None:
    async with served(settings, "ok") as (client, auth):
        episode_id = await assembled(client, auth, tmp_path)
        url = await signed_url(client, auth, episode_id)
        queued = await client.post(f"/api/episodes/{episode_id}/assemble", headers=auth)
        await wait_for(client, auth, queued.json()["job_id"], finished)
        assert forbidden(await client.get(url))
        assert (await client.get(await signed_url(client, auth, episode_id))).status_code == 200


async def test_asking_for_a_url_needs_the_owners_token_and_some_audio(
    settings: Settings, tmp_path: Path
) -> None:
    async with served(settings, "ok") as (client, auth):
        episode_id = await assembled(client, auth, tmp_path)
        draft = await new_episode(client, auth, tmp_path)
        assert (await client.get(f"/api/episodes/{episode_id}/audio-url")).status_code == 401
        no_audio = await client.get(f"/api/episodes/{draft}/audio-url", headers=auth)
        assert no_audio.status_code == 404
        stranger = await register(client, "mallory@example.com")
        theirs = await client.get(f"/api/episodes/{episode_id}/audio-url", headers=stranger)
        assert theirs.status_code == 404

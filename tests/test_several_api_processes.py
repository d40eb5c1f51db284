"""Two real ``podplus serve`` processes behind one address, on one database (SQLite, and
PostgreSQL): nothing either holds in memory makes it answer differently from the other.
A token logged out or ended through one is refused by the other on its next request; the
login throttle counts the guesses made to both; a publication through one is in the
other's feed at once, under the same ETag, and an app fetching its audio from both is
counted once; a list cursor and a signed audio link minted by one work on the other; and
an owner's analysis limit is one limit across both.

The two servers are shared by the module (one pair per database): each test makes its own
account."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import feedparser
import httpx
import pytest

from podplus.ids import new_id
from podplus.storage.database import connect, open_database
from podplus.storage.schema import analysis_slots
from tests.conftest import (
    PASSWORD,
    POSTGRES_URL_VARIABLE,
    TEST_SECRET_KEY,
    LiveServer,
    free_port,
)
from tests.media_files import tone

pytestmark = pytest.mark.slow

PUBLIC_URL = "https://pod.test"
LOGIN_MAX_FAILURES = 4
# What podcast apps send; the download counter takes it for a listener.
APP = "gPodder/3.11.4 (+https://gpodder.github.io/)"


@dataclass(frozen=True)
class Pair:
    """Two servers sharing a database, a data folder and the secret key."""

    first: LiveServer
    second: LiveServer
    database_url: str

    @property
    def both(self) -> tuple[LiveServer, LiveServer]:
        return self.first, self.second


def _create_database(server_url: str) -> str:
    name = f"podplus_test_{new_id()[:12]}"

    async def create() -> None:
        admin = await asyncpg.connect(server_url)
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()

    asyncio.run(create())
    return server_url.rsplit("/", 1)[0] + f"/{name}"


def _drop_database(server_url: str, url: str) -> None:
    async def drop() -> None:
        admin = await asyncpg.connect(server_url)
        try:
            await admin.execute(f'DROP DATABASE "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
        finally:
            await admin.close()

    asyncio.run(drop())


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def pair(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Pair]:
    data_dir = tmp_path_factory.mktemp("shared")
    server_url = os.environ.get(POSTGRES_URL_VARIABLE, "")
    if request.param == "sqlite":
        database_url = f"sqlite:///{data_dir / 'podplus.db'}"
    else:
        if not server_url:
            pytest.fail(f"{POSTGRES_URL_VARIABLE} is not set: run the suite with `make test`")
        database_url = _create_database(server_url)
    servers = []
    try:
        for name, runs_jobs in (("first", "true"), ("second", "false")):
            port = free_port()
            env = {
                **os.environ,
                "PODPLUS_DATA_DIR": str(data_dir),
                "PODPLUS_DATABASE_URL": database_url,
                "PODPLUS_PORT": str(port),
                "PODPLUS_SECRET_KEY": TEST_SECRET_KEY,
                "PODPLUS_PUBLIC_URL": PUBLIC_URL,
                "PODPLUS_RUN_JOBS": runs_jobs,
                "PODPLUS_MAX_ANALYSES_PER_USER": "1",
                "PODPLUS_LOGIN_MAX_FAILURES": str(LOGIN_MAX_FAILURES),
                # Past the limit, no second chance within a test.
                "PODPLUS_LOGIN_FIRST_DELAY_S": "600",
                "PODPLUS_SIGNUP_MAX_PER_ADDRESS": "100",
            }
            server = LiveServer(data_dir, port, env, data_dir / f"{name}.log")
            servers.append(server)
            server.start()
        yield Pair(servers[0], servers[1], database_url)
    finally:
        for server in servers:
            server.close()
        if request.param == "postgresql":
            _drop_database(server_url, database_url)


def sign_up(server: LiveServer) -> tuple[str, dict[str, str]]:
    email = f"{new_id()[:12]}@example.com"
    created = httpx.post(
        f"{server.base_url}/api/users", json={"email": email, "password": PASSWORD}
    )
    assert created.status_code == 201, created.text
    return email, log_in(server, email)


def log_in(server: LiveServer, email: str) -> dict[str, str]:
    token = httpx.post(
        f"{server.base_url}/api/auth/token", data={"username": email, "password": PASSWORD}
    )
    assert token.status_code == 200, token.text
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


def me(server: LiveServer, auth: dict[str, str]) -> int:
    return httpx.get(f"{server.base_url}/api/users/me", headers=auth).status_code


def upload(server: LiveServer, auth: dict[str, str], path: Path) -> dict[str, Any]:
    with path.open("rb") as handle:
        answer = httpx.post(
            f"{server.base_url}/api/media",
            headers=auth,
            files={"file": (path.name, handle)},
            timeout=60,
        )
    assert answer.status_code == 201, answer.text
    return answer.json()  # type: ignore[no-any-return]


@dataclass(frozen=True)
class Assembled:
    """An account with a show and an episode assembled through the first server."""

    auth: dict[str, str]
    show: dict[str, Any]
    episode: dict[str, Any]


@pytest.fixture(scope="module")
def assembled(pair: Pair, tmp_path_factory: pytest.TempPathFactory) -> Assembled:
    first = pair.first.base_url
    _, auth = sign_up(pair.first)
    show = httpx.post(
        f"{first}/api/shows",
        headers=auth,
        json={
            "title": "Two Servers",
            "description": "One feed.",
            "author": "Ada Lovelace",
            "owner_name": "Ada Lovelace",
            "owner_email": "ada@example.com",
            "language": "en-US",
            "category": "Technology",
        },
    )
    assert show.status_code == 201, show.text
    folder = tmp_path_factory.mktemp("audio")
    parts = [upload(pair.first, auth, tone(folder / f"{n}.wav", seconds=1)) for n in range(2)]
    episode = httpx.post(
        f"{first}/api/episodes",
        headers=auth,
        json={
            "title": "Episode 1",
            "show_id": show.json()["id"],
            "segments": [{"media_id": part["id"]} for part in parts],
            "output": {"format": "mp3"},
        },
    )
    assert episode.status_code == 201, episode.text
    episode_id = episode.json()["id"]
    queued = httpx.post(f"{first}/api/episodes/{episode_id}/assemble", headers=auth)
    assert queued.status_code == 202, queued.text
    job_url = f"{first}/api/jobs/{queued.json()['job_id']}"
    deadline = time.monotonic() + 90
    while (job := httpx.get(job_url, headers=auth).json())["status"] not in (
        "succeeded",
        "failed",
        "cancelled",
    ):
        assert time.monotonic() < deadline, job
        time.sleep(0.1)
    assert job["status"] == "succeeded", job
    ready = httpx.get(f"{first}/api/episodes/{episode_id}", headers=auth).json()
    return Assembled(auth=auth, show=show.json(), episode=ready)


def test_a_token_logged_out_on_one_server_is_refused_by_the_other_at_once(pair: Pair) -> None:
    email, auth = sign_up(pair.first)
    assert [me(server, auth) for server in pair.both] == [200, 200]
    assert httpx.post(f"{pair.first.base_url}/api/auth/logout", headers=auth).status_code == 204
    assert [me(server, auth) for server in pair.both] == [401, 401]

    # Logging out everywhere through the second ends the tokens the first issued.
    phone, laptop = log_in(pair.first, email), log_in(pair.first, email)
    assert [me(server, phone) for server in pair.both] == [200, 200]
    ended = httpx.post(f"{pair.second.base_url}/api/auth/logout-all", headers=laptop)
    assert ended.status_code == 204
    assert [me(server, token) for server in pair.both for token in (phone, laptop)] == [401] * 4
    assert [me(server, log_in(pair.second, email)) for server in pair.both] == [200, 200]


def test_failed_logins_to_both_servers_count_against_one_limit(pair: Pair) -> None:
    email, _ = sign_up(pair.first)

    def guess(server: LiveServer) -> int:
        return httpx.post(
            f"{server.base_url}/api/auth/token",
            data={"username": email, "password": "not the password"},
        ).status_code

    answers = [guess(pair.both[n % 2]) for n in range(LOGIN_MAX_FAILURES + 2)]
    assert answers == [401] * LOGIN_MAX_FAILURES + [429, 429]
    # Even the right password waits now, on either server.
    for server in pair.both:
        right = httpx.post(
            f"{server.base_url}/api/auth/token", data={"username": email, "password": PASSWORD}
        )
        assert right.status_code == 429 and int(right.headers["Retry-After"]) > 0


def test_a_publication_through_one_server_is_in_the_others_feed_at_once_with_one_etag(
    pair: Pair, assembled: Assembled
) -> None:
    feed_path = "/feeds/" + assembled.show["feed_url"].rsplit("/feeds/", 1)[1]
    before = httpx.get(pair.second.base_url + feed_path)  # rendered and kept by the second
    assert before.status_code == 200 and feedparser.parse(before.content).entries == []

    published = httpx.post(
        f"{pair.first.base_url}/api/episodes/{assembled.episode['id']}/publish",
        headers=assembled.auth,
        json={},
    )
    assert published.status_code == 200, published.text
    guid = published.json()["guid"]

    second, first = (httpx.get(server.base_url + feed_path) for server in (pair.second, pair.first))
    assert [entry.id for entry in feedparser.parse(second.content).entries] == [guid]
    assert second.content == first.content
    assert second.headers["ETag"] == first.headers["ETag"] != before.headers["ETag"]
    assert second.headers["Last-Modified"] == first.headers["Last-Modified"]
    # A poll that got its tag from one server is answered 304 by the other, and the
    # tag the second served before the publication no longer matches on either.
    for server in pair.both:
        again = httpx.get(
            server.base_url + feed_path, headers={"If-None-Match": first.headers["ETag"]}
        )
        assert again.status_code == 304
        stale = httpx.get(
            server.base_url + feed_path, headers={"If-None-Match": before.headers["ETag"]}
        )
        assert stale.status_code == 200 and feedparser.parse(stale.content).entries

    # One app fetching the episode's audio in ranges from both servers is one download.
    audio_path = published.json()["publication"]["audio_url"].removeprefix(PUBLIC_URL)
    for server, byte_range in ((pair.first, "bytes=0-999"), (pair.second, "bytes=1000-")):
        fetched = httpx.get(
            server.base_url + audio_path, headers={"User-Agent": APP, "Range": byte_range}
        )
        assert fetched.status_code == 206
    episode_url = f"{pair.second.base_url}/api/episodes/{assembled.episode['id']}"
    shown = httpx.get(episode_url, headers=assembled.auth).json()
    assert shown["publication"]["downloads"] == 1


def test_a_cursor_and_an_audio_link_from_one_server_work_on_the_other(
    pair: Pair, assembled: Assembled
) -> None:
    auth = assembled.auth
    first_page = httpx.get(f"{pair.first.base_url}/api/media?limit=1", headers=auth).json()
    assert first_page["next"] is not None
    rest = httpx.get(
        f"{pair.second.base_url}/api/media",
        params={"limit": 1, "cursor": first_page["next"]},
        headers=auth,
    )
    assert rest.status_code == 200, rest.text
    following = [item["id"] for item in rest.json()["items"]]
    assert len(following) == 1 and following != [item["id"] for item in first_page["items"]]

    link = httpx.get(
        f"{pair.first.base_url}/api/episodes/{assembled.episode['id']}/audio-url", headers=auth
    )
    assert link.status_code == 200, link.text
    with_token = httpx.get(pair.first.base_url + assembled.episode["audio_url"], headers=auth)
    signed = httpx.get(pair.second.base_url + link.json()["url"])
    assert signed.status_code == 200
    assert signed.content == with_token.content and len(signed.content) > 1000
    # Altered, it is refused there as here.
    forged = link.json()["url"].replace("sig=", "sig=A")
    assert httpx.get(pair.second.base_url + forged).status_code != 200


async def test_one_owners_analysis_limit_holds_across_both_servers(
    pair: Pair, tmp_path: Path
) -> None:
    _, auth = sign_up(pair.first)
    go_on = asyncio.Event()

    async def slow_body() -> AsyncIterator[bytes]:
        yield b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n\r\n'
        await go_on.wait()
        yield b"--b--\r\n"

    async with httpx.AsyncClient(timeout=60) as http:
        streaming = asyncio.create_task(
            http.post(
                f"{pair.first.base_url}/api/media",
                headers={**auth, "Content-Type": "multipart/form-data; boundary=b"},
                content=slow_body(),
            )
        )
        try:
            # The first server holds the owner's one slot while the body is still coming.
            await until_slots(pair.database_url, 1)
            clip = tone(tmp_path / "b.wav", seconds=1)
            refused = await http.post(
                f"{pair.second.base_url}/api/media",
                headers=auth,
                files={"file": (clip.name, clip.read_bytes())},
            )
            assert refused.status_code == 429, refused.text
            assert int(refused.headers["Retry-After"]) > 0
        finally:
            go_on.set()
            await streaming
        assert (await http.get(f"{pair.second.base_url}/api/media", headers=auth)).json()[
            "items"
        ] == []
        # Given back when the first one ended: the second server takes it now.
        await until_slots(pair.database_url, 0)
        accepted = await http.post(
            f"{pair.second.base_url}/api/media",
            headers=auth,
            files={"file": (clip.name, clip.read_bytes())},
        )
        assert accepted.status_code == 201, accepted.text
    await until_slots(pair.database_url, 0)


async def until_slots(database_url: str, count: int, *, timeout_s: float = 20) -> None:
    """Wait until the database holds ``count`` analysis slots."""
    database = open_database(database_url)
    await connect(database)
    try:
        deadline = time.monotonic() + timeout_s
        while len(await database.fetch_all(analysis_slots.select())) != count:
            assert time.monotonic() < deadline, f"never {count} analysis slots"
            await asyncio.sleep(0.05)
    finally:
        await database.disconnect()

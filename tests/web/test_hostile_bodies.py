"""Request bodies a stranger or a broken client might send: each gets a clear JSON 4xx, and
a request that isn't answered 2xx writes nothing."""

from __future__ import annotations

import httpx
import pytest

from tests.media_files import tone

JSON = {"Content-Type": "application/json"}


@pytest.fixture
async def take(client: httpx.AsyncClient, auth: dict[str, str], tmp_path) -> str:  # type: ignore[no-untyped-def]
    clip = tone(tmp_path / "take.wav", seconds=1)
    response = await client.post(
        "/api/media", headers=auth, files={"file": ("take.wav", clip.read_bytes())}
    )
    return str(response.json()["id"])


def episode_text(take: str, extra: str = "") -> str:
    return f'{{"title": "Ep", "segments": [{{"media_id": "{take}"{extra}}}]}}'


async def assert_no_episodes(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    listed = await client.get("/api/episodes", headers=auth)
    assert listed.status_code == 200 and listed.json()["items"] == []


@pytest.mark.parametrize(
    ("extra", "status", "field"),
    [
        (', "gain_db": NaN', 400, None),
        (', "trim_start_s": Infinity', 400, None),
        (', "trim_start_s": -Infinity', 400, None),
        (', "gain_db": 1' + "0" * 5000, 400, None),
        (', "gain_db": 1e999', 422, "segments[0].gain_db"),
        (', "gain_db": true', 422, "segments[0].gain_db"),
        (', "gain_db": "3"', 422, "segments[0].gain_db"),
    ],
    ids=["nan", "infinity", "minus-infinity", "5000-digits", "overflow", "bool", "string"],
)
async def test_numbers_that_are_not_finite_numbers_are_refused_and_nothing_is_saved(  # type: ignore[no-untyped-def]
    client, auth, take, extra, status, field
) -> None:
    response = await client.post(
        "/api/episodes", headers={**auth, **JSON}, content=episode_text(take, extra)
    )
    assert response.status_code == status, response.text
    message = response.json()["error"]["message"]
    if field:
        assert message.startswith(f"{field}:")
    await assert_no_episodes(client, auth)


@pytest.mark.parametrize(
    "body",
    [
        '{"title": "\\ud800", "segments": []}',
        "[" * 100_000 + "]" * 100_000,
        '{"title": "Ep", "segments": [' + "{" * 5000 + "}" * 5000 + "]}",
        "not json",
        '"a string"',
    ],
    ids=["lone-surrogate", "deep-brackets", "deep-objects", "not-json", "not-an-object"],
)
async def test_json_that_is_not_an_episode_is_400(client, auth, body) -> None:  # type: ignore[no-untyped-def]
    response = await client.post("/api/episodes", headers={**auth, **JSON}, content=body)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "bad_request"
    assert len(response.text) < 500  # the input is never echoed back
    await assert_no_episodes(client, auth)


@pytest.mark.parametrize(
    ("field", "value"),
    [("title", "Episode\x00one"), ("title", "Two\nlines"), ("description", "bell\x07")],
)
async def test_control_characters_are_refused_where_text_is_one_line(  # type: ignore[no-untyped-def]
    client, auth, take, field, value
) -> None:
    body = {"title": "Ep", "segments": [{"media_id": take}], field: value}
    response = await client.post("/api/episodes", headers=auth, json=body)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["message"].startswith(f"{field}:")
    await assert_no_episodes(client, auth)


async def test_a_json_body_over_the_limit_is_413_while_it_streams(client, auth) -> None:  # type: ignore[no-untyped-def]
    async def chunks():  # type: ignore[no-untyped-def]
        yield b'{"title": "'
        for _ in range(64):
            yield b"x" * 8192
        yield b'"}'

    response = await client.post("/api/users", headers=JSON, content=chunks())
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


async def test_a_declared_length_over_the_limit_is_refused_before_reading(client) -> None:  # type: ignore[no-untyped-def]
    response = await client.post(
        "/api/users", headers={**JSON, "Content-Length": str(10**9)}, content=b"{}"
    )
    assert response.status_code == 413


async def test_json_bodies_must_say_they_are_json(client, auth, take) -> None:  # type: ignore[no-untyped-def]
    response = await client.post(
        "/api/episodes",
        headers={**auth, "Content-Type": "text/plain"},
        content=episode_text(take),
    )
    assert response.status_code == 400
    await assert_no_episodes(client, auth)


async def test_the_login_form_is_url_encoded_only(client, auth) -> None:  # type: ignore[no-untyped-def]
    multipart = await client.post(
        "/api/auth/token",
        files={"username": (None, "ada@example.com"), "password": (None, "x" * 10)},
    )
    assert multipart.status_code == 400
    too_big = await client.post("/api/auth/token", data={"username": "a", "password": "x" * 20_000})
    assert too_big.status_code == 413
    not_utf8 = await client.post(
        "/api/auth/token",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        content=b"username=%ff%fe&password=x",
    )
    assert not_utf8.status_code in (400, 401, 422)
    assert not_utf8.headers["content-type"] == "application/json"


async def test_a_patch_that_fails_changes_nothing(client, auth, take) -> None:  # type: ignore[no-untyped-def]
    created = await client.post(
        "/api/episodes", headers=auth, json={"title": "Ep", "segments": [{"media_id": take}]}
    )
    episode = created.json()
    patched = await client.patch(
        f"/api/episodes/{episode['id']}",
        headers={**auth, **JSON},
        content='{"title": "New", "crossfade_s": NaN}',
    )
    assert patched.status_code == 400
    after = await client.get(f"/api/episodes/{episode['id']}", headers=auth)
    assert after.json() == episode

"""The assembled audio, as players and podcast apps read it: whole, or one byte range."""

from __future__ import annotations

from pathlib import Path

import pytest

from podplus.errors import NotFound, RangeNotSatisfiable
from podplus.settings import Settings
from podplus.web.audio import audio_response, requested_range
from tests.api import finished, new_episode, served, wait_for

SIZE = 1000


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("bytes=0-99", (0, 99)),
        ("bytes=500-", (500, 999)),
        ("bytes=-100", (900, 999)),
        ("bytes=-5000", (0, 999)),
        ("bytes=990-5000", (990, 999)),
        ("BYTES = 1 - 2", (1, 2)),
        # Ignored, as RFC 9110 allows: the whole file is sent.
        ("bytes=0-1,5-6", None),
        ("items=0-1", None),
        ("bytes=abc", None),
        ("bytes=5-1", None),
        ("bytes=-", None),
        ("", None),
    ],
)
def test_one_range_is_served_and_anything_unclear_gets_the_whole_file(header, expected) -> None:  # type: ignore[no-untyped-def]
    assert requested_range(header, SIZE) == expected


@pytest.mark.parametrize("header", ["bytes=1000-", "bytes=5000-6000", "bytes=-0"])
def test_a_range_past_the_end_is_not_satisfiable(header: str) -> None:
    with pytest.raises(RangeNotSatisfiable) as caught:
        requested_range(header, SIZE)
    assert caught.value.size_bytes == SIZE


async def test_the_audio_route_answers_ranges_and_refusals_as_a_player_needs(  # type: ignore[no-untyped-def]
    settings: Settings, tmp_path
) -> None:
    async with served(settings, "ok") as (client, auth):
        episode_id = await new_episode(client, auth, tmp_path)
        job = (await client.post(f"/api/episodes/{episode_id}/assemble", headers=auth)).json()
        await wait_for(client, auth, job["job_id"], finished)
        url = f"/api/episodes/{episode_id}/audio"
        whole = await client.get(url, headers=auth)
        assert whole.status_code == 200 and whole.headers["accept-ranges"] == "bytes"
        size = len(whole.content)

        part = await client.get(url, headers={**auth, "Range": "bytes=2-5"})
        assert part.status_code == 206 and part.content == whole.content[2:6]
        assert part.headers["content-range"] == f"bytes 2-5/{size}"

        for ignored in ("bytes=0-1,3-4", "bytes=abc", "bytes=5-1", "items=0-1"):
            answer = await client.get(url, headers={**auth, "Range": ignored})
            assert answer.status_code == 200 and answer.content == whole.content, ignored

        beyond = await client.get(url, headers={**auth, "Range": f"bytes={size}-"})
        assert beyond.status_code == 416
        assert beyond.headers["content-range"] == f"bytes */{size}"
        assert beyond.json()["error"]["code"] == "range_not_satisfiable"

        head = await client.head(url, headers={**auth, "Range": "bytes=-3"})
        assert head.status_code == 206 and head.headers["content-length"] == "3"


async def _send(
    response: object, *, method: str = "GET", range_header: str | None = None
) -> tuple[int, dict[str, str], bytes]:
    """Drive an ASGI response as a server would; (status, headers, body)."""
    messages: list[dict[str, object]] = []
    headers = [] if range_header is None else [(b"range", range_header.encode())]
    scope = {"type": "http", "method": method, "headers": headers, "asgi": {"spec_version": "2.4"}}

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, object]) -> None:
        messages.append(message)

    await response(scope, receive, send)  # type: ignore[operator]
    start = messages[0]
    assert start["type"] == "http.response.start"
    raw_headers = start["headers"]
    assert isinstance(raw_headers, list)
    body = b"".join(bytes(m.get("body", b"")) for m in messages[1:])  # type: ignore[arg-type]
    return int(start["status"]), {k.decode(): v.decode() for k, v in raw_headers}, body  # type: ignore[call-overload]


@pytest.mark.parametrize(
    ("method", "range_header", "status", "expected"),
    [
        ("GET", None, 200, b"0123456789"),
        ("GET", "bytes=2-4", 206, b"234"),
        ("HEAD", None, 200, b""),
    ],
)
async def test_a_file_removed_after_it_was_chosen_is_still_sent_whole(
    tmp_path: Path, method: str, range_header: str | None, status: int, expected: bytes
) -> None:
    # An episode unpublished (or re-assembled) between the answer being chosen and sent.
    path = tmp_path / "a.mp3"
    path.write_bytes(b"0123456789")
    response = audio_response(path, filename="a.mp3", range_header=range_header)
    path.unlink()
    sent_status, headers, body = await _send(response, method=method, range_header=range_header)
    assert (sent_status, body) == (status, expected)
    assert int(headers["content-length"]) == len(expected or b"0123456789")


def test_a_file_already_gone_is_a_404_not_a_500(tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        audio_response(tmp_path / "gone.mp3", filename="gone.mp3", range_header=None)

"""The upload form under attack: only the parts ``POST /api/media`` takes, each once, small
fields and headers, a clean file name. Each refusal comes before the rest of the body is
read, and leaves nothing on disk or in the database."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import AsyncIterator, Iterable
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from podplus.settings import Settings
from tests.conftest import register
from tests.media_files import tone

BOUNDARY = "podplus-test-boundary"


def part(name: str, content: bytes, *, filename: str | bytes | None = None) -> bytes:
    disposition = f'form-data; name="{name}"'.encode()
    if filename is not None:
        raw = filename if isinstance(filename, bytes) else filename.encode()
        disposition += b'; filename="' + raw + b'"'
    return b"--%s\r\nContent-Disposition: %s\r\n\r\n%s\r\n" % (
        BOUNDARY.encode(),
        disposition,
        content,
    )


def closing() -> bytes:
    return f"--{BOUNDARY}--\r\n".encode()


class Body:
    """A streamed request body that counts how much of it the server asked for."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self.sent = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self._chunks:
            self.sent += 1
            yield chunk


async def post_form(
    client: httpx.AsyncClient, auth: dict[str, str], body: Body | bytes
) -> httpx.Response:
    return await client.post(
        "/api/media",
        headers={**auth, "content-type": f"multipart/form-data; boundary={BOUNDARY}"},
        content=body,
    )


def error(response: httpx.Response) -> tuple[int, str, str]:
    found = response.json()["error"]
    return response.status_code, found["code"], found["message"]


def media_rows(settings: Settings) -> int:
    with contextlib.closing(
        sqlite3.connect(settings.database_url.removeprefix("sqlite:///"))
    ) as db:
        return int(db.execute("SELECT count(*) FROM media").fetchone()[0])


def stored_files(settings: Settings) -> list[Path]:
    return [p for p in settings.media_root.rglob("*") if p.is_file()]


@pytest.fixture
def clip(tmp_path: Path) -> bytes:
    return tone(tmp_path / "clip.wav", seconds=0.5).read_bytes()


async def test_a_part_the_form_does_not_take_is_422_naming_it(client, auth, settings, clip):  # type: ignore[no-untyped-def]
    body = part("file", clip, filename="a.wav") + part("title", b"x") + closing()
    status, code, message = error(await post_form(client, auth, body))
    assert (status, code) == (422, "invalid_input")
    assert message.startswith("'title': not a field of this form; it takes file, kind.")
    assert stored_files(settings) == [] and media_rows(settings) == 0


async def test_a_part_sent_twice_is_422(client, auth, settings, clip) -> None:  # type: ignore[no-untyped-def]
    body = part("kind", b"music") + part("kind", b"intro") + part("file", clip, filename="a.wav")
    status, _, message = error(await post_form(client, auth, body + closing()))
    assert (status, message) == (422, "kind: sent more than once.")
    assert stored_files(settings) == [] and media_rows(settings) == 0


async def test_a_second_file_is_refused_before_it_is_read(client, auth, settings, clip) -> None:  # type: ignore[no-untyped-def]
    body = Body([part("file", clip, filename="a.wav"), part("file", clip, filename="b.wav")])
    status, _, message = error(await post_form(client, auth, body))
    assert (status, message) == (422, "file: sent more than once.")
    assert stored_files(settings) == [] and media_rows(settings) == 0


async def test_twenty_thousand_fields_are_refused_at_the_first_one_past_the_form(  # type: ignore[no-untyped-def]
    client, auth, settings, clip
) -> None:
    # The attack: 20,000 fields of 4 KB. The server reads until the first part
    # the form can't have, and not a chunk further.
    field = b"x" * 4096
    flood = Body(
        [
            part("file", clip, filename="a.wav"),
            part("kind", b"content"),
            *(part(f"field{n}", field) for n in range(20_000)),
        ]
    )
    status, code, message = error(await post_form(client, auth, flood))
    assert (status, code) == (413, "payload_too_large")
    assert message == "The form has more than 2 parts; it takes file, kind."
    assert flood.sent <= 4

    unknown = Body(part(f"field{n}", field) for n in range(20_000))
    status, _, message = error(await post_form(client, auth, unknown))
    assert status == 422 and message.startswith("'field0': not a field of this form")
    assert unknown.sent <= 2
    assert stored_files(settings) == [] and media_rows(settings) == 0


async def test_a_field_over_a_kilobyte_is_413_before_the_rest_is_read(client, auth, settings):  # type: ignore[no-untyped-def]
    head = f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="kind"\r\n\r\n'.encode()
    body = Body([head, *(b"m" * 4096 for _ in range(25_000))])  # 100 MB of one field
    status, _, message = error(await post_form(client, auth, body))
    assert (status, message) == (413, "kind: a form field may hold 1024 bytes at most.")
    assert body.sent <= 3
    assert stored_files(settings) == [] and media_rows(settings) == 0


async def test_part_headers_over_8_kib_are_413(client, auth, settings) -> None:  # type: ignore[no-untyped-def]
    # Each line under the parser's own limit on one header; together, too much to hold.
    head = f"--{BOUNDARY}\r\n".encode()
    body = Body([head, *(b"X-Padding: " + b"p" * 3000 + b"\r\n" for _ in range(25_000))])
    status, _, message = error(await post_form(client, auth, body))
    assert (status, message) == (413, "A form part's headers are over 8 KiB.")
    assert body.sent <= 4
    assert stored_files(settings) == []


@pytest.mark.parametrize(
    "filename", [b"take\x00one.wav", b"take\x1b[31mone.wav", b"take\x7f.wav", b"a\tb.wav"]
)
async def test_control_characters_in_the_file_name_are_422_naming_file(  # type: ignore[no-untyped-def]
    client, auth, settings, clip, filename
) -> None:
    body = Body([part("file", b"", filename=filename)[:-2], clip, b"\r\n", closing()])
    status, code, message = error(await post_form(client, auth, body))
    assert (status, code) == (422, "invalid_input")
    assert message == "file: the file name must be one line without control characters."
    # Judged on its headers: the file's bytes were never asked for.
    assert body.sent == 1
    assert stored_files(settings) == [] and media_rows(settings) == 0


async def test_a_file_name_longer_than_a_file_system_allows_is_422(client, auth, settings, clip):  # type: ignore[no-untyped-def]
    body = part("file", clip, filename="a" * 252 + ".wav") + closing()
    status, _, message = error(await post_form(client, auth, body))
    assert (status, message) == (422, "file: the file name is over 255 characters.")
    assert stored_files(settings) == []


async def test_unicode_and_folders_in_a_file_name_are_fine(client, auth, clip) -> None:  # type: ignore[no-untyped-def]
    body = part("file", clip, filename="C:\\takes\\épisode 12 – prise 1.wav".encode()) + closing()
    response = await post_form(client, auth, body)
    assert response.status_code == 201, response.text
    assert response.json()["filename"] == "épisode 12 – prise 1.wav"


async def test_a_file_part_without_a_file_name_is_still_the_file(client, auth, clip) -> None:  # type: ignore[no-untyped-def]
    response = await post_form(client, auth, part("file", clip) + closing())
    assert response.status_code == 201, response.text
    assert response.json()["filename"] == "upload"


async def test_a_part_with_no_name_is_422(client, auth, settings) -> None:  # type: ignore[no-untyped-def]
    body = f"--{BOUNDARY}\r\nContent-Type: text/plain\r\n\r\nhello\r\n".encode() + closing()
    status, _, message = error(await post_form(client, auth, body))
    assert status == 422 and message.startswith("A part with no name: not a field of this form")


async def test_bytes_after_the_form_count_against_the_size_limit(serve, settings, clip):  # type: ignore[no-untyped-def]
    async with serve(replace(settings, max_upload_bytes=1024 * 1024)) as client:
        auth = await register(client)
        epilogue = Body(
            [part("file", clip, filename="a.wav"), closing(), *(b"\0" * 65536 for _ in range(100))]
        )
        status, _, message = error(await post_form(client, auth, epilogue))
    assert (status, message) == (413, "The file is larger than the 1 MB limit.")
    assert epilogue.sent < 30
    assert stored_files(settings) == [] and media_rows(settings) == 0

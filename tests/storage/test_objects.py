"""One specification of the object store, held by the local folder and by a real S3 server
(``weed mini``, started by ``scripts/test.sh``)."""

from __future__ import annotations

import asyncio
import os
import stat
import threading
from pathlib import Path

import pytest

from podplus.errors import ObjectMissing, StoreUnavailable
from podplus.ids import new_id
from podplus.storage.local_objects import LocalObjects
from podplus.storage.objects import KeyRefused, ObjectStore, open_object_store
from podplus.storage.s3_objects import PART_BYTES, S3Objects
from tests.conftest import S3Server, free_port

BYTES = bytes(range(256)) * 40  # 10240 bytes, each position telling its offset mod 256


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    if request.param == "local":
        return LocalObjects(tmp_path / "media")
    server: S3Server = request.getfixturevalue("s3_server")
    return S3Objects(
        bucket=server.bucket,
        prefix=f"spec-{new_id()[:16]}",
        endpoint=server.endpoint,
        access_key_id=server.access_key_id,
        secret_access_key=server.secret_access_key,
        timeout_s=5,
    )


def a_file(folder: Path, data: bytes = BYTES) -> Path:
    path = folder / f"{new_id()}.bin"
    path.write_bytes(data)
    return path


async def read_all(store: ObjectStore, key: str, **span: int) -> bytes:
    return b"".join([chunk async for chunk in store.read(key, **span)])


async def test_an_object_put_from_a_file_reads_back_whole_and_in_ranges(
    store: ObjectStore, tmp_path: Path
) -> None:
    source = a_file(tmp_path)
    stored = await store.put_file("episodes/e-j.mp3", source)
    assert (stored.key, stored.size_bytes) == ("episodes/e-j.mp3", len(BYTES))
    assert source.read_bytes() == BYTES  # put leaves the source
    assert await store.stat("episodes/e-j.mp3") == stored
    assert await read_all(store, "episodes/e-j.mp3") == BYTES
    assert await read_all(store, "episodes/e-j.mp3", first=10, last=19) == BYTES[10:20]
    assert await read_all(store, "episodes/e-j.mp3", first=10240 - 5) == BYTES[-5:]
    assert await read_all(store, "episodes/e-j.mp3", first=0, last=0) == BYTES[:1]
    # A last byte past the end reads to the end.
    assert await read_all(store, "episodes/e-j.mp3", first=10235, last=99999) == BYTES[-5:]
    fetched = tmp_path / "fetched.bin"
    assert (await store.fetch("episodes/e-j.mp3", fetched)).size_bytes == len(BYTES)
    assert fetched.read_bytes() == BYTES


async def test_an_empty_file_is_an_empty_object(store: ObjectStore, tmp_path: Path) -> None:
    stored = await store.put_file("m1", a_file(tmp_path, b""))
    assert stored.size_bytes == 0
    assert await read_all(store, "m1") == b""


async def test_a_file_larger_than_a_part_goes_up_in_parts_and_comes_back_the_same(
    store: ObjectStore, tmp_path: Path
) -> None:
    data = os.urandom(PART_BYTES + 12345)
    await store.move_file_in("big", source := a_file(tmp_path, data))
    assert not source.exists()  # moved, not copied
    assert (await store.stat("big")).size_bytes == len(data)  # type: ignore[union-attr]
    assert (
        await read_all(store, "big", first=PART_BYTES - 3, last=PART_BYTES + 2)
        == (data[PART_BYTES - 3 : PART_BYTES + 3])
    )
    assert await read_all(store, "big") == data


async def test_a_copy_is_a_second_object_that_outlives_the_first(
    store: ObjectStore, tmp_path: Path
) -> None:
    await store.put_file("episodes/a.mp3", a_file(tmp_path))
    copied = await store.copy("episodes/a.mp3", "public/audio/a-123.mp3")
    assert copied.size_bytes == len(BYTES)
    await store.delete("episodes/a.mp3")
    assert await store.stat("episodes/a.mp3") is None
    assert await read_all(store, "public/audio/a-123.mp3") == BYTES


async def test_a_missing_object_is_none_to_stat_missing_to_the_rest_and_deletes_quietly(
    store: ObjectStore, tmp_path: Path
) -> None:
    assert await store.stat("episodes/nothing.mp3") is None
    with pytest.raises(ObjectMissing):
        await read_all(store, "episodes/nothing.mp3")
    with pytest.raises(ObjectMissing):
        await store.fetch("episodes/nothing.mp3", tmp_path / "out.bin")
    assert not (tmp_path / "out.bin").exists()
    with pytest.raises(ObjectMissing):
        await store.copy("episodes/nothing.mp3", "public/audio/x.mp3")
    await store.delete("episodes/nothing.mp3")
    assert [path.name for path in tmp_path.iterdir() if path.suffix == ".part"] == []


async def test_a_new_object_replaces_the_old_one_whole(store: ObjectStore, tmp_path: Path) -> None:
    await store.put_file("k", a_file(tmp_path, b"old"))
    await store.put_file("k", a_file(tmp_path, b"the new bytes"))
    assert await read_all(store, "k") == b"the new bytes"


@pytest.mark.parametrize(
    "key", ["", "/etc/passwd", "../outside", "episodes/../../x", "a//b", "./a", "a\0b", "a\\b"]
)
async def test_keys_that_could_leave_the_store_are_refused(
    store: ObjectStore, tmp_path: Path, key: str
) -> None:
    source = a_file(tmp_path)
    with pytest.raises(KeyRefused):
        await store.put_file(key, source)
    with pytest.raises(KeyRefused):
        await store.stat(key)
    with pytest.raises(KeyRefused):
        await store.delete(key)
    assert source.exists()
    assert not (tmp_path.parent / "outside").exists()


async def test_a_put_stopped_midway_leaves_the_old_object(
    store: ObjectStore, tmp_path: Path
) -> None:
    """The source is a pipe that delivers more than a part, then nothing: the put can't
    finish, and is cancelled (a client gone, a shutdown) while parts are stored."""
    await store.put_file("k", a_file(tmp_path, b"old"))
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    written = threading.Event()
    stop = threading.Event()

    def feed() -> None:
        try:
            with pipe.open("wb") as handle:
                handle.write(b"x" * (PART_BYTES + 1024 * 1024))
                written.set()
                stop.wait(30)
        except BrokenPipeError:
            pass  # the reader went without reading: the local store refused the pipe

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    put = asyncio.create_task(store.put_file("k", pipe))
    try:
        while not (written.is_set() or put.done()):
            await asyncio.sleep(0.05)
        if put.done():
            # A local store refuses a pipe at once: a put that fails leaves the old object.
            with pytest.raises(OSError):
                put.result()
        else:
            put.cancel()
            stop.set()  # the pipe ends: a put not cancelled would now complete
            with pytest.raises(asyncio.CancelledError):
                await put
    finally:
        stop.set()
        if not written.is_set():
            # Unblock the feeder's open: a reader that goes at once.
            os.close(os.open(pipe, os.O_RDONLY | os.O_NONBLOCK))
        feeder.join(5)
    assert await read_all(store, "k") == b"old"
    assert (await store.stat("k")).size_bytes == 3  # type: ignore[union-attr]


async def test_the_local_store_is_the_media_folder_with_private_modes(tmp_path: Path) -> None:
    store = LocalObjects(tmp_path / "media")
    await store.put_file("public/artwork/a.png", a_file(tmp_path, b"png"))
    path = tmp_path / "media" / "public" / "artwork" / "a.png"
    assert store.local_path("public/artwork/a.png") == path
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    # Nothing but the object: no temporary file beside it.
    assert sorted(p.name for p in path.parent.iterdir()) == ["a.png"]


async def test_settings_pick_the_store(s3_settings: object, tmp_path: Path) -> None:
    from podplus.settings import Settings

    assert isinstance(s3_settings, Settings)
    assert isinstance(open_object_store(s3_settings), S3Objects)
    local = Settings(media_root=tmp_path / "media")
    assert isinstance(open_object_store(local), LocalObjects)


async def test_a_store_that_does_not_answer_is_unavailable_and_names_nothing(
    s3_server: S3Server, tmp_path: Path
) -> None:
    dead = S3Objects(
        bucket="secret-bucket",
        prefix="secret-prefix",
        endpoint=f"http://127.0.0.1:{free_port()}",
        access_key_id=s3_server.access_key_id,
        secret_access_key=s3_server.secret_access_key,
        timeout_s=1,
    )
    source = a_file(tmp_path)
    for attempt in (
        dead.put_file("episodes/secret-key.mp3", source),
        dead.stat("episodes/secret-key.mp3"),
        read_all(dead, "episodes/secret-key.mp3"),
        dead.copy("episodes/secret-key.mp3", "public/audio/x"),
        dead.delete("episodes/secret-key.mp3"),
    ):
        with pytest.raises(StoreUnavailable) as refused:
            await attempt
        assert "secret" not in refused.value.message
        assert "127.0.0.1" not in refused.value.message


async def test_wrong_credentials_are_refused_by_the_server(
    s3_server: S3Server, tmp_path: Path
) -> None:
    impostor = S3Objects(
        bucket=s3_server.bucket,
        prefix="impostor",
        endpoint=s3_server.endpoint,
        access_key_id=s3_server.access_key_id,
        secret_access_key="not-the-secret",
        timeout_s=5,
    )
    with pytest.raises(StoreUnavailable):
        await impostor.put_file("k", a_file(tmp_path))

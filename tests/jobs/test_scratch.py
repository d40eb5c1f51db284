"""A worker's scratch disk: objects come from the store once, stay while a job uses them,
and the cache keeps to its bound.

The remote store is the real S3 server ``scripts/test.sh`` starts (``weed mini``); the
local one is a media folder, read in place.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from podplus.errors import ObjectMissing, StoreUnavailable
from podplus.ids import new_id
from podplus.jobs.scratch import Scratch
from podplus.storage.local_objects import LocalObjects
from podplus.storage.objects import ObjectStore
from podplus.storage.s3_objects import S3Objects
from tests.conftest import S3Server
from tests.jobs.conftest import s3_objects, unreachable

SIZE = 1000  # bytes of each object


@pytest.fixture
def remote(s3_server: S3Server) -> S3Objects:
    """A store of this test's own: a prefix in the test bucket."""
    return s3_objects(s3_server)


@pytest.fixture
def make_scratch(tmp_path: Path) -> Callable[..., Scratch]:
    def make(objects: ObjectStore, *, cache_bytes: int = 10 * SIZE) -> Scratch:
        return Scratch(tmp_path / "scratch", objects=objects, cache_bytes=cache_bytes)

    return make


async def put(objects: ObjectStore, tmp_path: Path, key: str, fill: bytes = b"a") -> bytes:
    content = (fill * SIZE)[:SIZE]
    source = tmp_path / f"source-{new_id()}"
    source.write_bytes(content)
    await objects.put_file(key, source)
    return content


def cached(scratch: Scratch) -> list[str]:
    """The cache's files, leftovers of fetches included."""
    cache = scratch.root / "cache"
    return sorted(str(path.relative_to(cache)) for path in cache.rglob("*") if path.is_file())


async def test_a_local_store_is_read_in_place_and_nothing_is_copied(
    tmp_path: Path, make_scratch: Callable[..., Scratch]
) -> None:
    local = LocalObjects(tmp_path / "media")
    await put(local, tmp_path, "take.wav")
    scratch = make_scratch(local)
    async with scratch.local_copy("take.wav") as path:
        assert path == tmp_path / "media" / "take.wav"
    assert scratch.fetches == 0 and cached(scratch) == []


async def test_a_remote_object_is_fetched_once_then_used_from_the_cache(
    tmp_path: Path, remote: S3Objects, make_scratch: Callable[..., Scratch]
) -> None:
    content = await put(remote, tmp_path, "take.wav")
    scratch = make_scratch(remote)
    async with scratch.local_copy("take.wav") as first:
        assert first.is_relative_to(scratch.root) and first.suffix == ".wav"
        assert first.read_bytes() == content
        inode = first.stat().st_ino
    async with scratch.local_copy("take.wav") as again:
        assert again == first and again.stat().st_ino == inode
    assert scratch.fetches == 1
    assert cached(scratch) == [first.name]


async def test_jobs_wanting_one_object_at_the_same_time_fetch_it_once(
    tmp_path: Path, remote: S3Objects, make_scratch: Callable[..., Scratch]
) -> None:
    await put(remote, tmp_path, "take.wav")
    scratch = make_scratch(remote)
    all_in = asyncio.Barrier(5)

    async def job() -> Path:
        async with scratch.local_copy("take.wav") as path:
            await all_in.wait()  # every job holds its copy at once
            return path

    paths = await asyncio.gather(*(job() for _ in range(5)))
    assert len(set(paths)) == 1 and scratch.fetches == 1


async def test_the_cache_keeps_to_its_bound_by_dropping_the_least_recently_used(
    tmp_path: Path, remote: S3Objects, make_scratch: Callable[..., Scratch]
) -> None:
    for key in "abcd":
        await put(remote, tmp_path, f"{key}.wav", key.encode())
    scratch = make_scratch(remote, cache_bytes=2 * SIZE + SIZE // 2)
    paths: dict[str, Path] = {}
    for key in "abac":  # a is used again after b: b is the least recently used
        async with scratch.local_copy(f"{key}.wav") as path:
            paths[key] = path
        assert scratch.cached_bytes() <= scratch.cache_bytes
    assert (paths["a"].exists(), paths["b"].exists(), paths["c"].exists()) == (True, False, True)
    async with scratch.local_copy("d.wav") as path:
        paths["d"] = path
    assert sorted(path.name for path in paths.values() if path.exists()) == sorted(
        [paths["c"].name, paths["d"].name]
    )
    assert scratch.cached_bytes() == 2 * SIZE and scratch.fetches == 4


async def test_a_file_a_job_holds_is_never_evicted(
    tmp_path: Path, remote: S3Objects, make_scratch: Callable[..., Scratch]
) -> None:
    for key in "abcd":
        await put(remote, tmp_path, f"{key}.wav", key.encode())
    scratch = make_scratch(remote, cache_bytes=SIZE + SIZE // 2)
    # Another worker process sharing the folder: its evictions respect this one's pins.
    neighbour = make_scratch(remote, cache_bytes=0)
    async with scratch.local_copy("a.wav") as held:
        for key in "bcd":
            async with scratch.local_copy(f"{key}.wav"):
                pass
            assert held.read_bytes() == b"a" * SIZE
        neighbour.evict(0)
        assert held.read_bytes() == b"a" * SIZE
    # Released, it may go: the cache is back under its bound.
    assert scratch.cached_bytes() <= scratch.cache_bytes


async def test_a_missing_object_or_a_store_that_is_down_leaves_no_file(
    tmp_path: Path, s3_server: S3Server, make_scratch: Callable[..., Scratch]
) -> None:
    scratch = make_scratch(s3_objects(s3_server))
    with pytest.raises(ObjectMissing):
        async with scratch.local_copy("never-uploaded.wav"):
            pass
    # Every call fails within the store's time limit: it ends, it doesn't hang.
    down = make_scratch(unreachable(s3_server))
    with pytest.raises(StoreUnavailable):
        async with down.local_copies(["a.wav", "b.wav", "c.wav"]):
            pass
    assert cached(scratch) == [] and scratch.fetches == down.fetches == 0


async def test_one_failure_among_several_parts_releases_the_others(
    tmp_path: Path, remote: S3Objects, make_scratch: Callable[..., Scratch]
) -> None:
    for key in "ab":
        await put(remote, tmp_path, f"{key}.wav", key.encode())
    scratch = make_scratch(remote)
    with pytest.raises(ObjectMissing):
        async with scratch.local_copies(["a.wav", "b.wav", "gone.wav"]):
            pass
    # Nothing holds what was fetched: a neighbour may evict all of it.
    make_scratch(remote, cache_bytes=0).evict(0)
    assert cached(scratch) == []


@contextlib.asynccontextmanager
async def fetch_under_way(folder: Path) -> AsyncIterator[None]:
    """A staging folder locked as a live fetch (in another worker process) holds it."""
    folder.mkdir()
    (folder / ".x.part").write_bytes(b"half")
    descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    fcntl.flock(descriptor, fcntl.LOCK_EX)
    try:
        yield
    finally:
        os.close(descriptor)


async def test_the_start_up_sweep_removes_what_crashed_fetches_left(
    tmp_path: Path, remote: S3Objects, make_scratch: Callable[..., Scratch]
) -> None:
    for key in "abc":
        await put(remote, tmp_path, f"{key}.wav", key.encode())
    scratch = make_scratch(remote)
    for key in "abc":
        async with scratch.local_copy(f"{key}.wav"):
            pass
    incoming = scratch.root / "cache" / ".incoming"
    crashed = incoming / new_id()
    crashed.mkdir()
    (crashed / ".x.part").write_bytes(b"half an object")
    async with fetch_under_way(incoming / "live"):
        # The next start, with a smaller cache than the last run's.
        restarted = make_scratch(remote, cache_bytes=SIZE)
        assert restarted.sweep() == 1
        assert [path.name for path in incoming.iterdir()] == ["live"]
        assert restarted.cached_bytes() == SIZE
    # The survivor is the most recently used, and still whole.
    async with restarted.local_copy("c.wav") as path:
        assert path.read_bytes() == b"c" * SIZE
    assert restarted.fetches == 0


def test_work_folders_are_made_empty_listed_and_removed(
    tmp_path: Path, make_scratch: Callable[..., Scratch]
) -> None:
    scratch = make_scratch(LocalObjects(tmp_path / "media"))
    folder = scratch.make_work_dir("j1")
    (folder / ".podplus-x").mkdir()
    (folder / ".podplus-x" / "mix.f32le").write_bytes(b"\0" * 64)
    assert scratch.make_work_dir("j1") == folder and list(folder.iterdir()) == []
    scratch.make_work_dir("j2")
    assert scratch.work_job_ids() == ["j1", "j2"]
    assert scratch.remove_work_dir("j1") and not scratch.remove_work_dir("j1")
    assert scratch.work_job_ids() == ["j2"]

"""The expiring cache in front of per-request lookups: one load per miss, however many wait."""

from __future__ import annotations

import asyncio

import pytest

from podplus.caching import ExpiringCache


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Loader:
    def __init__(self) -> None:
        self.calls = 0
        self.release = asyncio.Event()

    async def __call__(self) -> str:
        self.calls += 1
        await self.release.wait()
        return f"value {self.calls}"


async def test_concurrent_misses_share_one_load() -> None:
    cache: ExpiringCache[str, str] = ExpiringCache(ttl_s=5, max_entries=10, monotonic=Clock())
    load = Loader()
    waiting = [asyncio.create_task(cache.get("ada", load)) for _ in range(32)]
    await asyncio.sleep(0)
    load.release.set()
    assert set(await asyncio.gather(*waiting)) == {"value 1"}
    assert load.calls == 1


async def test_an_entry_is_served_until_it_expires_then_loaded_again() -> None:
    clock = Clock()
    cache: ExpiringCache[str, str] = ExpiringCache(ttl_s=5, max_entries=10, monotonic=clock)
    load = Loader()
    load.release.set()
    assert await cache.get("ada", load) == "value 1"
    clock.now = 4.9
    assert await cache.get("ada", load) == "value 1"
    clock.now = 5.1
    assert await cache.get("ada", load) == "value 2"


async def test_a_drop_during_a_load_keeps_its_answer_out_of_the_cache() -> None:
    cache: ExpiringCache[str, str] = ExpiringCache(ttl_s=5, max_entries=10, monotonic=Clock())
    load = Loader()
    stale = asyncio.create_task(cache.get("ada", load))
    await asyncio.sleep(0)
    cache.drop("ada")  # e.g. the account changed while its old row was being read
    load.release.set()
    assert await stale == "value 1"
    assert await cache.get("ada", load) == "value 2"


async def test_a_failed_load_is_not_remembered() -> None:
    cache: ExpiringCache[str, str] = ExpiringCache(ttl_s=5, max_entries=10, monotonic=Clock())

    async def broken() -> str:
        raise ConnectionError("database away")

    with pytest.raises(ConnectionError):
        await cache.get("ada", broken)
    load = Loader()
    load.release.set()
    assert await cache.get("ada", load) == "value 1"


async def test_a_caller_that_gives_up_does_not_cancel_the_others_load() -> None:
    cache: ExpiringCache[str, str] = ExpiringCache(ttl_s=5, max_entries=10, monotonic=Clock())
    load = Loader()
    impatient = asyncio.create_task(cache.get("ada", load))
    patient = asyncio.create_task(cache.get("ada", load))
    await asyncio.sleep(0)
    impatient.cancel()
    load.release.set()
    assert await patient == "value 1" and load.calls == 1

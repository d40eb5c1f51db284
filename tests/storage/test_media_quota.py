"""Media quotas are counted by the database when a row is written, so uploads racing
through several processes (several connections here) can't pass one together."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from databases import Database

from podplus.errors import MediaQuotaExceeded
from podplus.ids import new_id
from podplus.storage.database import connect, open_database
from podplus.storage.media import Media, MediaKind, MediaQuota, MediaStore, MediaUsage
from podplus.storage.migrations import migrate
from podplus.storage.schema import users

OWNER, OTHER = "owner", "other"
ROOMY = MediaQuota(storage_bytes=10**9, files=1000, duration_s=10**6)


@pytest.fixture
async def stores(database_url: str) -> AsyncIterator[list[MediaStore]]:
    """Four stores, each on its own connection pool, as four server processes would be."""
    first = open_database(database_url)
    await connect(first)
    await migrate(first)
    for user_id in (OWNER, OTHER):
        await first.execute(
            users.insert().values(
                id=user_id, email=f"{user_id}@x.io", name="", password_hash="-", created_at=0
            )
        )
    databases: list[Database] = [first]
    for _ in range(3):
        databases.append(open_database(database_url))
        await connect(databases[-1])
    yield [MediaStore(database) for database in databases]
    for database in databases:
        await database.disconnect()


def item(owner_id: str = OWNER, *, size_bytes: int = 100, duration_s: float = 10.0) -> Media:
    media_id = new_id()
    return Media(
        id=media_id,
        owner_id=owner_id,
        kind=MediaKind.CONTENT,
        filename="take.wav",
        storage_name=media_id,
        size_bytes=size_bytes,
        duration_s=duration_s,
        sample_rate=48000,
        channels=1,
        codec="pcm_s16le",
        loudness_lufs=-20.0,
        created_at=0.0,
    )


async def race(stores: list[MediaStore], quota: MediaQuota, count: int) -> list[str]:
    """Add ``count`` items at once through every store; return the quotas that refused."""

    async def add(store: MediaStore) -> str | None:
        try:
            await store.add_within(item(), quota)
        except MediaQuotaExceeded as exc:
            return exc.quota
        return None

    results = await asyncio.gather(*(add(stores[n % len(stores)]) for n in range(count)))
    return [quota for quota in results if quota is not None]


async def test_usage_sums_one_owners_files_bytes_and_seconds(stores) -> None:  # type: ignore[no-untyped-def]
    store = stores[0]
    await store.add_within(item(size_bytes=100, duration_s=1.5), ROOMY)
    await store.add_within(item(size_bytes=50, duration_s=None), ROOMY)  # type: ignore[arg-type]
    await store.add_within(item(OTHER, size_bytes=7), ROOMY)
    assert await store.usage(owner_id=OWNER) == MediaUsage(files=2, size_bytes=150, duration_s=1.5)
    assert await store.usage(owner_id="nobody") == MediaUsage(files=0, size_bytes=0, duration_s=0)


async def test_racing_adds_never_pass_the_files_quota(stores) -> None:  # type: ignore[no-untyped-def]
    quota = MediaQuota(storage_bytes=10**9, files=3, duration_s=10**6)
    refused = await race(stores, quota, 12)
    assert refused == ["media_files"] * 9
    assert (await stores[0].usage(owner_id=OWNER)).files == 3


async def test_racing_adds_never_pass_the_storage_quota(stores) -> None:  # type: ignore[no-untyped-def]
    quota = MediaQuota(storage_bytes=450, files=1000, duration_s=10**6)
    refused = await race(stores, quota, 12)
    assert refused == ["storage_bytes"] * 8
    assert (await stores[0].usage(owner_id=OWNER)).size_bytes == 400


async def test_racing_adds_never_pass_the_duration_quota(stores) -> None:  # type: ignore[no-untyped-def]
    quota = MediaQuota(storage_bytes=10**9, files=1000, duration_s=25.0)
    refused = await race(stores, quota, 12)
    assert refused == ["media_duration_s"] * 10
    assert (await stores[0].usage(owner_id=OWNER)).duration_s == 20.0


async def test_one_owners_quota_leaves_another_alone(stores) -> None:  # type: ignore[no-untyped-def]
    quota = MediaQuota(storage_bytes=10**9, files=1, duration_s=10**6)
    await stores[0].add_within(item(OWNER), quota)
    with pytest.raises(MediaQuotaExceeded) as caught:
        await stores[1].add_within(item(OWNER), quota)
    assert caught.value.quota == "media_files" and caught.value.limit == 1
    await stores[2].add_within(item(OTHER), quota)

"""The per-owner analysis limit, held in the database: two processes sharing it hand out no
more slots than the limit between them, however they race; a slot whose server died lapses
after its lease, and one whose server lives is renewed past it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from databases import Database

from podplus.errors import AnalysisBusy
from podplus.storage.analysis_slots import AnalysisSlots
from podplus.storage.database import connect, open_database
from podplus.storage.migrations import migrate
from podplus.storage.schema import analysis_slots, schema_migrations

LEASE_S = 30.0


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def databases(database_url: str) -> AsyncIterator[tuple[Database, Database]]:
    """Two connections to one database, as two servers have."""
    made = []
    for _ in range(2):
        database = open_database(database_url)
        await connect(database)
        await migrate(database)
        made.append(database)
    yield made[0], made[1]
    for database in made:
        await database.disconnect()


async def test_two_processes_racing_get_no_more_slots_than_the_limit(
    databases: tuple[Database, Database],
) -> None:
    clock = Clock()
    here, there = (AnalysisSlots(db, per_owner=2, clock=clock) for db in databases)
    taken = await asyncio.gather(
        *((here if n % 2 else there).take("ada", holder=f"request{n}") for n in range(12))
    )
    assert sorted(slot for slot in taken if slot is not None) == [0, 1]
    # Another owner's slots are their own.
    assert await here.take("bob", holder="bob1") == 0
    assert await there.held("ada") == 2


async def test_a_slot_is_given_back_when_its_analysis_ends_or_fails(
    databases: tuple[Database, Database],
) -> None:
    here, there = (AnalysisSlots(db, per_owner=1) for db in databases)
    async with here.hold("ada"):
        with pytest.raises(AnalysisBusy):
            async with there.hold("ada"):
                raise AssertionError("a second slot was handed out")
    with pytest.raises(ValueError):
        async with there.hold("ada"):
            raise ValueError("the analysis failed")
    async with here.hold("ada"):
        pass
    assert await databases[0].fetch_all(analysis_slots.select()) == []


async def test_a_dead_servers_slot_lapses_after_its_lease_and_no_sooner(
    databases: tuple[Database, Database],
) -> None:
    clock = Clock()
    dead, alive = (AnalysisSlots(db, per_owner=1, lease_s=LEASE_S, clock=clock) for db in databases)
    # Taken, and then its server was killed: nothing renews it, nothing gives it back.
    assert await dead.take("ada", holder="killed") == 0
    clock.now += LEASE_S - 1
    assert await alive.take("ada", holder="waiting") is None
    clock.now += 1
    assert await alive.take("ada", holder="waiting") == 0
    # The dead holder can no longer renew what it lost.
    assert not await dead.renew("ada", 0, holder="killed")


async def test_a_live_servers_slot_is_renewed_past_its_first_lease(
    databases: tuple[Database, Database],
) -> None:
    clock = Clock()
    slept: asyncio.Queue[float] = asyncio.Queue()
    ticks: asyncio.Queue[None] = asyncio.Queue()

    async def sleep(seconds: float) -> None:
        await slept.put(seconds)
        await ticks.get()
        clock.now += seconds

    here = AnalysisSlots(databases[0], per_owner=1, lease_s=LEASE_S, clock=clock, sleep=sleep)
    there = AnalysisSlots(databases[1], per_owner=1, lease_s=LEASE_S, clock=clock)
    started = clock.now
    async with here.hold("ada"):
        for _ in range(3):  # three renewals: a lease and a third past the first one
            assert await slept.get() == LEASE_S / 3
            ticks.put_nowait(None)
        await slept.get()  # the third renewal is written
        assert clock.now - started == LEASE_S  # past the lease it was taken with
        assert await there.take("ada", holder="other") is None
    assert await there.take("ada", holder="other") == 0


async def test_a_version_8_database_gains_the_analysis_slots(database_url: str) -> None:
    database = open_database(database_url)
    await connect(database)
    try:
        await migrate(database)
        await database.execute("DROP TABLE analysis_slots")
        await database.execute(schema_migrations.delete().where(schema_migrations.c.version > 8))
        await migrate(database)
        assert await AnalysisSlots(database, per_owner=1).take("ada", holder="h") == 0
    finally:
        await database.disconnect()

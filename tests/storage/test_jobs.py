"""The job table as a queue several runners can share."""

from __future__ import annotations

import asyncio

import pytest

from podplus.errors import Conflict, EpisodeBusy
from podplus.ids import new_id
from podplus.storage.database import connect, open_database
from podplus.storage.jobs import FailureCause, JobStatus, JobStore
from podplus.storage.migrations import migrate
from podplus.storage.schema import episodes, users


async def seeded_url(url: str, episode_count: int) -> tuple[str, list[str]]:
    database = open_database(url)
    await connect(database)
    await migrate(database)
    await database.execute(
        users.insert().values(id="u", email="u@x.io", name="", password_hash="-", created_at=0)
    )
    episode_ids = [new_id() for _ in range(episode_count)]
    for episode_id in episode_ids:
        await database.execute(
            episodes.insert().values(
                id=episode_id, owner_id="u", title="t", spec="{}", created_at=0, updated_at=0
            )
        )
    await database.disconnect()
    return url, episode_ids


async def test_each_job_is_claimed_by_exactly_one_of_several_runners(database_url: str) -> None:
    url, episode_ids = await seeded_url(database_url, 30)
    databases = [open_database(url) for _ in range(4)]
    for database in databases:
        await connect(database)
    stores = [JobStore(database) for database in databases]
    for episode_id in episode_ids:
        await stores[0].enqueue(owner_id="u", episode_id=episode_id)

    async def drain(store: JobStore, worker: str) -> list[str]:
        claimed = []
        while job := await store.claim(worker_id=worker, lease_s=30, max_attempts=3):
            claimed.append(job.id)
        return claimed

    results = await asyncio.gather(*(drain(s, f"host:{n}:1.0") for n, s in enumerate(stores)))
    everything = [job_id for claimed in results for job_id in claimed]
    assert len(everything) == len(set(everything)) == 30
    for database in databases:
        await database.disconnect()


class Clock:
    """Time that moves only when a test says so."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def test_one_live_job_per_episode(database_url: str) -> None:
    url, [episode_id] = await seeded_url(database_url, 1)
    database = open_database(url)
    await connect(database)
    store = JobStore(database)
    first = await store.enqueue(owner_id="u", episode_id=episode_id)
    with pytest.raises(EpisodeBusy) as refused:
        await store.enqueue(owner_id="u", episode_id=episode_id)
    assert refused.value.episode_id == episode_id
    assert isinstance(refused.value, Conflict)
    await store.cancel_queued(first.id)
    second = await store.enqueue(owner_id="u", episode_id=episode_id)
    assert second.status is JobStatus.QUEUED
    await database.disconnect()


async def test_claims_count_attempts_and_carry_a_renewable_lease(database_url: str) -> None:
    url, [episode_id] = await seeded_url(database_url, 1)
    database = open_database(url)
    await connect(database)
    clock = Clock()
    store = JobStore(database, clock=clock)
    queued = await store.enqueue(owner_id="u", episode_id=episode_id)
    job = await store.claim(worker_id="h:1:1.0", lease_s=5, max_attempts=3)
    assert job is not None and job.id == queued.id
    assert job.status is JobStatus.RUNNING and job.attempts == 1
    assert job.lease_owner is not None and job.lease_owner.startswith("h:1:1.0#")
    assert job.lease_expires_at == clock.now + 5
    clock.now += 3
    assert await store.renew([job.id], lease_s=60) == set()
    renewed = await store.get(job.id)
    assert renewed is not None and renewed.lease_expires_at == clock.now + 60
    await store.request_cancel(job.id)
    assert await store.renew([job.id], lease_s=60) == {job.id}
    await database.disconnect()


async def test_a_failed_job_keeps_its_cause_beside_its_message(database_url: str) -> None:
    url, [episode_id] = await seeded_url(database_url, 1)
    database = open_database(url)
    await connect(database)
    store = JobStore(database)
    queued = await store.enqueue(owner_id="u", episode_id=episode_id)
    assert queued.failure_cause is None
    await store.claim(worker_id="h:1:1.0", lease_s=5, max_attempts=3)
    await store.fail(queued.id, cause=FailureCause.CRASHED, error="engine crashed (killed by X)")
    failed = await store.get(queued.id)
    assert failed is not None and failed.status is JobStatus.FAILED
    assert failed.failure_cause is FailureCause.CRASHED
    assert failed.error == "engine crashed (killed by X)"
    await database.disconnect()


async def test_an_interrupted_job_is_requeued_until_its_attempts_run_out(database_url: str) -> None:
    url, [episode_id] = await seeded_url(database_url, 1)
    database = open_database(url)
    await connect(database)
    store = JobStore(database)
    queued = await store.enqueue(owner_id="u", episode_id=episode_id)
    statuses = []
    for _ in range(2):
        await store.claim(worker_id="h:1:1.0", lease_s=5, max_attempts=2)
        statuses.append(await store.requeue_or_fail(queued.id, max_attempts=2))
    assert statuses == [JobStatus.QUEUED, JobStatus.FAILED]
    job = await store.get(queued.id)
    assert job is not None and job.attempts == 2
    assert (job.failure_cause, job.error) == (FailureCause.INTERRUPTED, "interrupted")
    await database.disconnect()


async def test_a_shutdown_does_not_use_up_an_attempt(database_url: str) -> None:
    url, [episode_id] = await seeded_url(database_url, 1)
    database = open_database(url)
    await connect(database)
    store = JobStore(database)
    queued = await store.enqueue(owner_id="u", episode_id=episode_id)
    for _ in range(3):
        await store.claim(worker_id="h:1:1.0", lease_s=5, max_attempts=1)
        status = await store.requeue_or_fail(queued.id, max_attempts=1, count_attempt=False)
        assert status is JobStatus.QUEUED
    job = await store.get(queued.id)
    assert job is not None and job.attempts == 0
    await database.disconnect()

"""The job table as a queue several runners can share."""

from __future__ import annotations

import asyncio

import pytest

from podplus.errors import Conflict, EpisodeBusy, JobQuotaExceeded
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


async def two_owners(url: str, *, episodes_each: int) -> dict[str, list[str]]:
    """Owners ``a`` and ``b`` with ``episodes_each`` episodes each; their episode ids."""
    database = open_database(url)
    await connect(database)
    await migrate(database)
    owned: dict[str, list[str]] = {}
    for owner in ("a", "b"):
        await database.execute(
            users.insert().values(
                id=owner, email=f"{owner}@x.io", name="", password_hash="-", created_at=0
            )
        )
        owned[owner] = [new_id() for _ in range(episodes_each)]
        for episode_id in owned[owner]:
            await database.execute(
                episodes.insert().values(
                    id=episode_id, owner_id=owner, title="t", spec="{}", created_at=0, updated_at=0
                )
            )
    await database.disconnect()
    return owned


async def test_one_owners_queue_does_not_hold_back_anothers_first_job(database_url: str) -> None:
    owned = await two_owners(database_url, episodes_each=5)
    database = open_database(database_url)
    await connect(database)
    clock = Clock()
    store = JobStore(database, clock=clock)
    first_of_a = None
    for episode_id in owned["a"]:
        job = await store.enqueue(owner_id="a", episode_id=episode_id)
        first_of_a = first_of_a or job
        clock.now += 1
    only_of_b = await store.enqueue(owner_id="b", episode_id=owned["b"][0])

    claimed = []
    for _ in range(2):
        job = await store.claim(worker_id="h:1:1.0", lease_s=30, max_attempts=3)
        assert job is not None
        claimed.append(job.id)
    assert first_of_a is not None and claimed == [first_of_a.id, only_of_b.id]
    await database.disconnect()


async def test_between_idle_owners_the_one_served_longest_ago_goes_first(database_url: str) -> None:
    # One runner, one job at a time: nobody is running when it claims, yet a's second job
    # must not go before b's first just because a queued it earlier.
    owned = await two_owners(database_url, episodes_each=2)
    database = open_database(database_url)
    await connect(database)
    clock = Clock()
    store = JobStore(database, clock=clock)
    a_jobs = []
    for episode_id in owned["a"]:
        a_jobs.append(await store.enqueue(owner_id="a", episode_id=episode_id))
        clock.now += 1
    b_job = await store.enqueue(owner_id="b", episode_id=owned["b"][0])

    order = []
    while job := await store.claim(worker_id="h:1:1.0", lease_s=30, max_attempts=3):
        order.append(job.id)
        clock.now += 10
        await store.succeed(job.id)
    assert order == [a_jobs[0].id, b_job.id, a_jobs[1].id]
    await database.disconnect()


async def test_an_owner_at_the_active_jobs_quota_is_refused_and_nothing_is_written(
    database_url: str,
) -> None:
    url, episode_ids = await seeded_url(database_url, 4)
    database = open_database(url)
    await connect(database)
    store = JobStore(database)
    first = await store.enqueue(owner_id="u", episode_id=episode_ids[0], max_active=2)
    await store.enqueue(owner_id="u", episode_id=episode_ids[1], max_active=2)
    await store.claim(worker_id="h:1:1.0", lease_s=30, max_attempts=3)  # running counts too

    with pytest.raises(JobQuotaExceeded) as refused:
        await store.enqueue(owner_id="u", episode_id=episode_ids[2], max_active=2)
    assert (refused.value.quota, refused.value.limit) == ("active_jobs", 2)
    assert "active jobs quota (2)" in refused.value.message
    assert await database.fetch_val("SELECT count(*) FROM jobs") == 2
    # A second click on a live episode is still "busy", whatever the quota says.
    with pytest.raises(EpisodeBusy):
        await store.enqueue(owner_id="u", episode_id=episode_ids[0], max_active=2)

    await store.succeed(first.id)
    again = await store.enqueue(owner_id="u", episode_id=episode_ids[2], max_active=2)
    assert again.status is JobStatus.QUEUED
    await database.disconnect()


async def test_concurrent_requests_cannot_pass_the_quota_together(database_url: str) -> None:
    url, episode_ids = await seeded_url(database_url, 12)
    databases = [open_database(url) for _ in range(4)]
    for database in databases:
        await connect(database)
    stores = [JobStore(database) for database in databases]

    async def attempt(index: int, episode_id: str) -> bool:
        try:
            await stores[index % 4].enqueue(owner_id="u", episode_id=episode_id, max_active=3)
        except JobQuotaExceeded:
            return False
        return True

    results = await asyncio.gather(*(attempt(n, e) for n, e in enumerate(episode_ids)))
    assert sum(results) == 3
    assert await databases[0].fetch_val("SELECT count(*) FROM jobs") == 3
    for database in databases:
        await database.disconnect()

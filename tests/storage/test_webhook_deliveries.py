"""The webhook outbox as a queue several workers share, and where events are recorded."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
from databases import Database

from podplus.errors import WebhookQuotaExceeded
from podplus.ids import new_id
from podplus.storage.database import connect, open_database
from podplus.storage.jobs import FailureCause, Job, JobStatus, JobStore
from podplus.storage.migrations import migrate
from podplus.storage.schema import episodes, users, webhook_deliveries
from podplus.storage.webhook_deliveries import AttemptOutcome, DeliveryStatus, DeliveryStore
from podplus.storage.webhooks import WebhookEvent, WebhookStore


class Clock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    db = open_database(database_url)
    await connect(db)
    await migrate(db)
    await db.execute(
        users.insert().values(id="u", email="u@x.io", name="", password_hash="-", created_at=0)
    )
    yield db
    await db.disconnect()


async def add_webhook(database: Database, *events: WebhookEvent) -> str:
    webhook_id = new_id()
    await WebhookStore(database).create(
        webhook_id=webhook_id,
        owner_id="u",
        url="https://hooks.example.com/",
        events=events or (WebhookEvent.JOB_SUCCEEDED,),
        secret_sealed="v1.sealed",
        max_per_owner=100,
    )
    return webhook_id


async def test_each_attempt_is_claimed_by_exactly_one_of_several_workers(
    database: Database, database_url: str
) -> None:
    hooks = [await add_webhook(database) for _ in range(12)]
    outbox = DeliveryStore(database)
    for webhook_id in hooks:
        await outbox.record_test(owner_id="u", webhook_id=webhook_id)
    others = [open_database(database_url) for _ in range(3)]
    for other in others:
        await connect(other)
    stores = [outbox, *(DeliveryStore(other) for other in others)]

    async def drain(store: DeliveryStore, worker: str) -> list[str]:
        taken = []
        while claimed := await store.claim(worker_id=worker, lease_s=60, limit=2):
            taken += [item.delivery.id for item in claimed]
        return taken

    results = await asyncio.gather(*(drain(s, f"w{n}") for n, s in enumerate(stores)))
    everything = [delivery_id for taken in results for delivery_id in taken]
    assert len(everything) == len(set(everything)) == 12
    for other in others:
        await other.disconnect()


async def test_a_lapsed_lease_is_claimed_again_and_only_the_holder_records(
    database: Database,
) -> None:
    clock = Clock()
    webhook_id = await add_webhook(database)
    outbox = DeliveryStore(database, clock=clock)
    delivery = await outbox.record_test(owner_id="u", webhook_id=webhook_id)
    assert delivery is not None
    (first,) = await outbox.claim(worker_id="a", lease_s=60, limit=5)
    assert await outbox.claim(worker_id="b", lease_s=60, limit=5) == []

    clock.now += 61  # worker a is gone
    (second,) = await outbox.claim(worker_id="b", lease_s=60, limit=5)
    assert second.delivery.id == first.delivery.id and second.delivery.attempts == 2
    # a comes back too late: its record doesn't count; b's does.
    await outbox.finish(first, AttemptOutcome(response_code=200), next_attempt_at=None)
    assert (await outbox.get(delivery.id)).status is DeliveryStatus.PENDING  # type: ignore[union-attr]
    await outbox.finish(second, AttemptOutcome(response_code=500), next_attempt_at=clock.now + 9)
    after = await outbox.get(delivery.id)
    assert after is not None and after.status is DeliveryStatus.PENDING
    assert after.last_response_code == 500 and after.next_attempt_at == clock.now + 9
    assert await outbox.claim(worker_id="c", lease_s=60, limit=5) == []  # not due yet
    clock.now += 10
    assert len(await outbox.claim(worker_id="c", lease_s=60, limit=5)) == 1


async def test_a_webhook_with_one_delivery_in_flight_gets_no_second_one(
    database: Database,
) -> None:
    slow, other = await add_webhook(database), await add_webhook(database)
    outbox = DeliveryStore(database)
    for _ in range(3):
        await outbox.record_test(owner_id="u", webhook_id=slow)
    await outbox.record_test(owner_id="u", webhook_id=other)
    first = await outbox.claim(worker_id="a", lease_s=60, limit=10)
    assert sorted(item.delivery.webhook_id for item in first) == sorted([slow, other])
    assert await outbox.claim(worker_id="b", lease_s=60, limit=10) == []


async def add_running_job(database: Database) -> Job:
    episode_id = new_id()
    await database.execute(
        episodes.insert().values(
            id=episode_id, owner_id="u", title="t", spec="{}", created_at=0, updated_at=0
        )
    )
    store = JobStore(database)
    job = await store.enqueue(owner_id="u", episode_id=episode_id)
    claimed = await store.claim(worker_id="w", lease_s=60, max_attempts=3)
    assert claimed is not None and claimed.id == job.id
    return claimed


async def test_a_job_that_ends_records_its_event_for_the_webhooks_that_want_it(
    database: Database,
) -> None:
    wanted = await add_webhook(database, WebhookEvent.JOB_FAILED)
    await add_webhook(database, WebhookEvent.JOB_SUCCEEDED)
    outbox = DeliveryStore(database, render_job=lambda job: json.dumps({"id": job.id}))
    jobs = JobStore(database, events=outbox)
    job = await add_running_job(database)

    await jobs.fail(job.id, cause=FailureCause.TIMEOUT, error="timeout")
    # Already failed: nothing changes, so no second event.
    await jobs.fail(job.id, cause=FailureCause.TIMEOUT, error="timeout")
    page = await outbox.for_webhook(wanted, limit=10)
    (delivery,) = page.items
    body = json.loads(delivery.payload)
    assert body["type"] == "job.failed" and body["data"] == {"id": job.id}
    rows = await database.fetch_all(webhook_deliveries.select())
    assert len(rows) == 1


async def test_a_job_end_and_its_event_commit_together_or_not_at_all(database: Database) -> None:
    await add_webhook(database, WebhookEvent.JOB_SUCCEEDED)

    def broken_render(job: Job) -> str:
        raise RuntimeError("rendering failed")

    jobs = JobStore(database, events=DeliveryStore(database, render_job=broken_render))
    job = await add_running_job(database)
    with pytest.raises(RuntimeError):
        await jobs.succeed(job.id)
    still = await jobs.get(job.id)
    assert still is not None and still.status is JobStatus.RUNNING
    assert await database.fetch_all(webhook_deliveries.select()) == []


async def test_an_owner_may_have_only_so_many_webhooks_even_asking_at_once(
    database: Database,
) -> None:
    store = WebhookStore(database)

    async def create() -> str:
        try:
            await store.create(
                webhook_id=new_id(),
                owner_id="u",
                url="https://hooks.example.com/",
                events=[WebhookEvent.JOB_SUCCEEDED],
                secret_sealed="v1.x",
                max_per_owner=3,
            )
            return "created"
        except WebhookQuotaExceeded:
            return "refused"

    results = await asyncio.gather(*(create() for _ in range(8)))
    assert sorted(results) == ["created"] * 3 + ["refused"] * 5
    assert len((await store.owned_by(owner_id="u", limit=10)).items) == 3

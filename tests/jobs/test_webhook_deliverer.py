"""The deliverer's schedule (backoff with full jitter, for a day) and its stop."""

from __future__ import annotations

import asyncio
from pathlib import Path

from databases import Database

from podplus.ids import new_id
from podplus.jobs.identity import WorkerIdentity
from podplus.jobs.webhook_deliverer import Deliverer, RetryPolicy
from podplus.jobs.webhook_sender import WebhookSender
from podplus.security.targets import TargetPolicy, system_resolver
from podplus.security.webhook_secrets import SecretBox, new_secret, serialize
from podplus.storage.webhook_deliveries import AttemptOutcome, DeliveryStatus, DeliveryStore
from podplus.storage.webhooks import WebhookEvent, WebhookStore
from tests.webhooks.receiver import Receiver

DAY_S = 86400.0


def policy(jitter: float) -> RetryPolicy:
    return RetryPolicy(base_s=5, max_delay_s=6 * 3600, window_s=DAY_S, random=lambda: jitter)


def test_the_ceiling_doubles_with_each_attempt_up_to_the_cap() -> None:
    almost_one = policy(0.999999)
    ceilings = [round(almost_one.delay_s(n)) for n in range(1, 8)]
    assert ceilings == [5, 10, 20, 40, 80, 160, 320]
    assert round(almost_one.delay_s(40)) == 6 * 3600
    assert almost_one.delay_s(10_000) <= 6 * 3600  # no overflow, however many


def test_full_jitter_draws_anywhere_under_the_ceiling() -> None:
    assert policy(0.0).delay_s(7) == 0.0
    assert policy(0.5).delay_s(7) == 160.0


def test_a_retry_after_is_honoured_within_the_cap() -> None:
    assert policy(0.0).delay_s(1, retry_after_s=120) == 120
    assert policy(0.0).delay_s(1, retry_after_s=10 * DAY_S) == 6 * 3600


def test_retries_stop_a_day_after_the_event_and_at_410() -> None:
    failed = AttemptOutcome(response_code=500, error="the receiver answered 500")
    schedule = policy(0.5)
    assert schedule.next_attempt_at(failed, attempts=3, created_at=0, now=100) == 110
    assert schedule.next_attempt_at(failed, attempts=3, created_at=0, now=DAY_S - 5) is None
    gone = AttemptOutcome(response_code=410, error="gone", retryable=False)
    assert schedule.next_attempt_at(gone, attempts=1, created_at=0, now=1) is None
    delivered = AttemptOutcome(response_code=204)
    assert schedule.next_attempt_at(delivered, attempts=1, created_at=0, now=1) is None


def deliverer(database: Database, box: SecretBox, worker: str) -> Deliverer:
    sender = WebhookSender(
        policy=TargetPolicy(resolve=system_resolver, allow_private=True, timeout_s=30),
        box=box,
        timeout_s=30,
    )
    return Deliverer(
        deliveries=DeliveryStore(database),
        sender=sender,
        retry=RetryPolicy(base_s=0.01, max_delay_s=1, window_s=DAY_S),
        identity=WorkerIdentity(host=worker, boot_id="b", pid=1, started_at=0.0),
        concurrency=2,
        lease_s=90,
        poll_interval_s=0.02,
        grace_s=0.01,
    )


async def test_a_stopping_worker_gives_its_attempt_back_and_another_sends_it_with_one_id(
    database: Database, tmp_path: Path
) -> None:
    box = SecretBox(secret_key="s" * 48)
    secret, webhook_id = new_secret(), new_id()
    with Receiver(hang=True) as stuck:
        await WebhookStore(database).create(
            webhook_id=webhook_id,
            owner_id="u1",
            url=stuck.url,
            events=[WebhookEvent.JOB_SUCCEEDED],
            secret_sealed=box.seal(secret, webhook_id=webhook_id),
            max_per_owner=5,
        )
        outbox = DeliveryStore(database)
        delivery = await outbox.record_test(owner_id="u1", webhook_id=webhook_id)
        assert delivery is not None
        first = deliverer(database, box, "first")
        await first.start()
        while not stuck.arrived.is_set():
            await asyncio.sleep(0.01)
        await first.stop()  # the receiver still hasn't answered
        given_back = await outbox.get(delivery.id)
        assert given_back is not None and given_back.lease_owner is None
        assert given_back.status is DeliveryStatus.PENDING and given_back.attempts == 0

        stuck.released.set()
        second = deliverer(database, box, "second")
        await second.start()
        while (done := await outbox.get(delivery.id)) and done.status is DeliveryStatus.PENDING:
            await asyncio.sleep(0.01)
        await second.stop()
    assert done is not None and done.status is DeliveryStatus.SUCCEEDED
    assert len(stuck.requests) == 2
    assert {request.headers["webhook-id"] for request in stuck.requests} == {done.message_id}
    for request in stuck.requests:
        assert request.verified(serialize(secret))["type"] == "webhook.test"

"""The webhook deliverer: claims due deliveries from the outbox and sends them, beside the
job runner, in every process that runs jobs (``podplus serve`` and ``podplus worker``).

It schedules and nothing else: claiming with a lease, at most ``concurrency`` attempts in
flight (and one per webhook: ``DeliveryStore.claim``), the time of the next attempt, stop.
What an attempt does is ``podplus.jobs.webhook_sender``. Attempts are tasks of their own,
so a receiver that hangs holds one slot until its time limit, and never a request handler
or an assembly: those only ever write a row to the outbox.

Retries back off exponentially with full jitter: attempt *n* fails, the next is at a random
moment within ``base × 2^(n-1)`` (capped), later if the receiver sent ``Retry-After``, until
the window after the event has passed; then the delivery is ``failed``. Every attempt
carries the delivery's one ``webhook-id``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from podplus.jobs.identity import WorkerIdentity
from podplus.jobs.webhook_sender import WebhookSender
from podplus.storage.webhook_deliveries import (
    AttemptOutcome,
    ClaimedDelivery,
    DeliveryStatus,
    DeliveryStore,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    base_s: float
    max_delay_s: float
    window_s: float
    # A number in [0, 1): the jitter (a test passes its own).
    random: Callable[[], float] = field(default=random.random)

    def delay_s(self, attempts: int, *, retry_after_s: float | None = None) -> float:
        """How long after failed attempt number ``attempts`` (1, 2, …) to try again."""
        ceiling = min(self.max_delay_s, self.base_s * 2.0 ** min(attempts - 1, 62))
        delay = self.random() * ceiling
        if retry_after_s is not None:
            delay = max(delay, min(retry_after_s, self.max_delay_s))
        return delay

    def next_attempt_at(
        self, outcome: AttemptOutcome, *, attempts: int, created_at: float, now: float
    ) -> float | None:
        """When to try again after ``outcome``; None to give up (or once delivered)."""
        if outcome.delivered or not outcome.retryable:
            return None
        moment = now + self.delay_s(attempts, retry_after_s=outcome.retry_after_s)
        return moment if moment <= created_at + self.window_s else None


class Deliverer:
    def __init__(
        self,
        *,
        deliveries: DeliveryStore,
        sender: WebhookSender,
        retry: RetryPolicy,
        identity: WorkerIdentity,
        concurrency: int,
        lease_s: float,
        poll_interval_s: float,
        grace_s: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._deliveries = deliveries
        self._sender = sender
        self._retry = retry
        self._identity = identity
        self._concurrency = concurrency
        self._lease_s = lease_s
        self._poll_interval_s = poll_interval_s
        self._grace_s = grace_s
        self._clock = clock
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None
        self._active: dict[asyncio.Task[None], ClaimedDelivery] = {}

    @property
    def in_flight(self) -> int:
        return len(self._active)

    async def start(self) -> None:
        self._loop_task = asyncio.create_task(self._claim_loop(), name="webhooks.claim")

    def wake(self) -> None:
        """Something was recorded or finished here: look at the outbox now."""
        self._wake.set()

    async def stop(self) -> None:
        """Stop claiming; give attempts in flight ``grace_s`` to end, then cancel them and
        give their claims back, so another worker sends them at once (same webhook-id)."""
        self._stopping.set()
        self._wake.set()
        if self._loop_task is not None:
            await asyncio.gather(self._loop_task, return_exceptions=True)
        if self._active:
            await asyncio.wait(list(self._active), timeout=self._grace_s)
        unfinished = dict(self._active)
        for task in unfinished:
            task.cancel()
        await asyncio.gather(*unfinished, return_exceptions=True)
        for claimed in unfinished.values():
            with contextlib.suppress(Exception):
                await self._deliveries.release(claimed)
        await self._sender.aclose()

    async def _claim_loop(self) -> None:
        while not self._stopping.is_set():
            free = self._concurrency - len(self._active)
            if free > 0:
                try:
                    claimed = await self._deliveries.claim(
                        worker_id=self._identity.worker_id, lease_s=self._lease_s, limit=free
                    )
                except Exception:
                    logger.exception("event=webhooks.claim_failed")
                    claimed = []
                for item in claimed:
                    task = asyncio.create_task(
                        self._deliver(item), name=f"webhook.{item.delivery.id}"
                    )
                    self._active[task] = item
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._poll_interval_s)

    async def _deliver(self, claimed: ClaimedDelivery) -> None:
        delivery = claimed.delivery
        try:
            outcome = await self._sender.attempt(claimed)
            next_at = self._retry.next_attempt_at(
                outcome,
                attempts=delivery.attempts,
                created_at=delivery.created_at,
                now=self._clock(),
            )
            status = await self._deliveries.finish(claimed, outcome, next_attempt_at=next_at)
            log = logger.info if status is not DeliveryStatus.FAILED else logger.warning
            log(
                "event=webhooks.attempt delivery_id=%s webhook_id=%s type=%s attempt=%s "
                "code=%s status=%s",
                delivery.id,
                delivery.webhook_id,
                delivery.event_type,
                delivery.attempts,
                outcome.response_code,
                status.value,
            )
        except Exception:
            # The claim lapses with its lease; another attempt follows.
            logger.exception("event=webhooks.attempt_error delivery_id=%s", delivery.id)
        finally:
            self._active.pop(asyncio.current_task(), None)  # type: ignore[arg-type]
            self._wake.set()

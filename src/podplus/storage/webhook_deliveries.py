"""The webhook outbox: a delivery row per event and webhook, and its attempts.

An event is *recorded* where it happens (a job ending: inside the transaction that ends it,
``JobStore(events=…)``; a publication: by its handler), as one ``pending`` row per webhook
that wants it, holding the exact body every attempt will send. The workers *claim* due rows
with a lease (a conditional UPDATE stamped with a token, as jobs are claimed), so two
workers never send the same attempt, and *finish* each attempt under that token: it ends
``succeeded``, ``failed``, or ``pending`` again with its next attempt's time.

    deliveries = DeliveryStore(database, render_job=…)
    await deliveries.record(owner_id=…, event_type="episode.published", data_json=…)
    claimed = await deliveries.claim(worker_id=…, lease_s=45, limit=8)
    await deliveries.finish(claimed[0], outcome, next_attempt_at=None)
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

import sqlalchemy as sa
from databases import Database

from podplus.ids import isoformat, new_id
from podplus.storage.jobs import Job, JobStatus
from podplus.storage.pages import PageOf, Position, newest_first
from podplus.storage.schema import webhook_deliveries as deliveries
from podplus.storage.schema import webhooks
from podplus.storage.webhooks import TEST_EVENT, Webhook, WebhookEvent, WebhookStore

MESSAGE_ID_PREFIX = "msg_"
MAX_ERROR_CHARS = 400
JOB_EVENTS = {
    JobStatus.SUCCEEDED: WebhookEvent.JOB_SUCCEEDED,
    JobStatus.FAILED: WebhookEvent.JOB_FAILED,
    JobStatus.CANCELLED: WebhookEvent.JOB_CANCELLED,
}


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass(frozen=True)
class Delivery:
    id: str
    webhook_id: str
    owner_id: str
    event_type: str
    payload: str
    status: DeliveryStatus
    attempts: int
    last_response_code: int | None
    last_error: str | None
    next_attempt_at: float | None
    last_attempt_at: float | None
    lease_owner: str | None
    lease_expires_at: float | None
    created_at: float

    @property
    def message_id(self) -> str:
        """The ``webhook-id`` header: the same on every attempt."""
        return MESSAGE_ID_PREFIX + self.id


@dataclass(frozen=True)
class ClaimedDelivery:
    """A delivery this worker holds for one attempt, with what the attempt needs."""

    delivery: Delivery
    url: str
    secret_sealed: str
    lease_token: str


@dataclass(frozen=True)
class AttemptOutcome:
    """What one attempt came to: the receiver's status code, or why there was none."""

    response_code: int | None = None
    error: str | None = None
    # A Retry-After the receiver sent (seconds), honoured by the next attempt's time.
    retry_after_s: float | None = None
    # False: no attempt could do better (410 Gone, a secret that can't be read).
    retryable: bool = True

    @property
    def delivered(self) -> bool:
        return self.response_code is not None and 200 <= self.response_code < 300


def _delivery(row: object) -> Delivery:
    mapping = {column.name: row._mapping[column.name] for column in deliveries.columns}  # type: ignore[attr-defined]
    mapping["status"] = DeliveryStatus(mapping["status"])
    return Delivery(**mapping)


def envelope(event_type: str, occurred_at: float, data_json: str) -> str:
    """The body, minified: ``{"type", "timestamp", "data"}``, ``data`` the JSON given as is."""
    return (
        f'{{"type":{json.dumps(event_type)},'
        f'"timestamp":{json.dumps(isoformat(occurred_at))},'
        f'"data":{data_json}}}'
    )


class DeliveryStore:
    """The outbox. ``render_job`` gives a job's JSON as the API shows it (the web layer's
    shape, passed in so storage needs no web import)."""

    def __init__(
        self,
        database: Database,
        *,
        clock: Callable[[], float] = time.time,
        render_job: Callable[[Job], str] | None = None,
    ) -> None:
        self._db = database
        self._clock = clock
        self._render_job = render_job
        self._webhooks = WebhookStore(database)

    # -- recording events -------------------------------------------------------------------

    async def record(
        self, *, owner_id: str, event_type: str, data_json: str, webhook_id: str | None = None
    ) -> list[Delivery]:
        """One pending delivery for each of the owner's webhooks that wants ``event_type``
        (or for ``webhook_id`` alone, whatever it wants: the test event)."""
        if webhook_id is not None:
            found = await self._webhooks.get(webhook_id, owner_id=owner_id)
            targets = [] if found is None else [found]
        else:
            targets = await self._webhooks.subscribed(owner_id, event_type)
        return await self._insert(
            targets, owner_id=owner_id, event_type=event_type, data_json=data_json
        )

    async def _insert(
        self, targets: list[Webhook], *, owner_id: str, event_type: str, data_json: str
    ) -> list[Delivery]:
        if not targets:
            return []
        now = self._clock()
        body = envelope(event_type, now, data_json)
        made = [
            Delivery(
                id=new_id(),
                webhook_id=webhook.id,
                owner_id=owner_id,
                event_type=event_type,
                payload=body,
                status=DeliveryStatus.PENDING,
                attempts=0,
                last_response_code=None,
                last_error=None,
                next_attempt_at=now,
                last_attempt_at=None,
                lease_owner=None,
                lease_expires_at=None,
                created_at=now,
            )
            for webhook in targets
        ]
        await self._db.execute_many(
            deliveries.insert(),
            [{**delivery.__dict__, "status": delivery.status.value} for delivery in made],
        )
        return made

    async def record_test(self, *, owner_id: str, webhook_id: str) -> Delivery | None:
        data = json.dumps({"webhook_id": webhook_id}, separators=(",", ":"))
        made = await self.record(
            owner_id=owner_id, event_type=TEST_EVENT, data_json=data, webhook_id=webhook_id
        )
        return made[0] if made else None

    async def job_finished(self, job: Job) -> None:
        """Record ``job.succeeded``/``failed``/``cancelled`` for a job that just ended;
        ``JobStore`` calls it inside the transaction that ends the job."""
        event = JOB_EVENTS.get(job.status)
        if event is None or self._render_job is None:
            return
        targets = await self._webhooks.subscribed(job.owner_id, event)
        if targets:  # most owners have none: nothing rendered
            await self._insert(
                targets, owner_id=job.owner_id, event_type=event, data_json=self._render_job(job)
            )

    # -- what workers do ---------------------------------------------------------------------

    async def claim(self, *, worker_id: str, lease_s: float, limit: int) -> list[ClaimedDelivery]:
        """Take up to ``limit`` due deliveries, at most one per webhook, none of whose
        webhook has one in flight: a receiver that hangs holds one slot, not all of them."""
        now = self._clock()
        pending = deliveries.c.status == DeliveryStatus.PENDING.value
        due = sa.and_(pending, deliveries.c.next_attempt_at <= now)
        in_flight = sa.select(deliveries.c.webhook_id).where(
            pending, deliveries.c.lease_expires_at > now
        )
        # The webhooks whose oldest due delivery waited longest: fair across receivers, so
        # one with a backlog doesn't keep the others waiting.
        oldest = sa.func.min(deliveries.c.next_attempt_at).label("due")
        heads = await self._db.fetch_all(
            sa.select(deliveries.c.webhook_id, oldest)
            .where(due, deliveries.c.webhook_id.not_in(in_flight))
            .group_by(deliveries.c.webhook_id)
            .order_by(oldest, deliveries.c.webhook_id)
            .limit(limit)
        )
        claimed: list[ClaimedDelivery] = []
        for head in heads:
            delivery_id = await self._db.fetch_val(
                sa.select(deliveries.c.id)
                .where(due, deliveries.c.webhook_id == head[0])
                .order_by(deliveries.c.next_attempt_at, deliveries.c.id)
                .limit(1)
            )
            if delivery_id is None:
                continue
            token = f"{worker_id}#{new_id()[:8]}"
            won = await self._db.fetch_val(
                deliveries.update()
                .where(
                    deliveries.c.id == delivery_id,
                    deliveries.c.status == DeliveryStatus.PENDING.value,
                    sa.or_(
                        deliveries.c.lease_expires_at.is_(None),
                        deliveries.c.lease_expires_at <= now,
                    ),
                )
                .values(
                    lease_owner=token,
                    lease_expires_at=now + lease_s,
                    attempts=deliveries.c.attempts + 1,
                    last_attempt_at=now,
                )
                .returning(deliveries.c.id)
            )
            if won is None:
                continue  # another worker took it
            row = await self._db.fetch_one(
                sa.select(deliveries, webhooks.c.url, webhooks.c.secret_sealed)
                .select_from(deliveries.join(webhooks, webhooks.c.id == deliveries.c.webhook_id))
                .where(deliveries.c.id == delivery_id)
            )
            if row is not None:
                claimed.append(
                    ClaimedDelivery(
                        delivery=_delivery(row),
                        url=str(row._mapping["url"]),
                        secret_sealed=str(row._mapping["secret_sealed"]),
                        lease_token=token,
                    )
                )
        return claimed

    async def finish(
        self, claimed: ClaimedDelivery, outcome: AttemptOutcome, *, next_attempt_at: float | None
    ) -> DeliveryStatus:
        """Record the attempt: delivered, given up (``next_attempt_at`` None), or pending
        until ``next_attempt_at``. Only the lease holder's record counts."""
        if outcome.delivered:
            status = DeliveryStatus.SUCCEEDED
        elif next_attempt_at is None:
            status = DeliveryStatus.FAILED
        else:
            status = DeliveryStatus.PENDING
        await self._db.execute(
            deliveries.update()
            .where(
                deliveries.c.id == claimed.delivery.id,
                deliveries.c.lease_owner == claimed.lease_token,
            )
            .values(
                status=status.value,
                last_response_code=outcome.response_code,
                last_error=None if outcome.error is None else outcome.error[:MAX_ERROR_CHARS],
                next_attempt_at=next_attempt_at if status is DeliveryStatus.PENDING else None,
                lease_owner=None,
                lease_expires_at=None,
            )
        )
        return status

    async def release(self, claimed: ClaimedDelivery) -> None:
        """Give a claim back unsent (this worker is stopping): due again at once, and the
        attempt it counted is not counted."""
        await self._db.execute(
            deliveries.update()
            .where(
                deliveries.c.id == claimed.delivery.id,
                deliveries.c.lease_owner == claimed.lease_token,
            )
            .values(lease_owner=None, lease_expires_at=None, attempts=deliveries.c.attempts - 1)
        )

    # -- the delivery log --------------------------------------------------------------------

    async def get(self, delivery_id: str) -> Delivery | None:
        row = await self._db.fetch_one(deliveries.select().where(deliveries.c.id == delivery_id))
        return None if row is None else _delivery(row)

    async def for_webhook(
        self, webhook_id: str, *, limit: int, after: Position | None = None
    ) -> PageOf[Delivery]:
        """One page of a webhook's deliveries, newest first."""
        return await newest_first(
            self._db,
            deliveries,
            where=[deliveries.c.webhook_id == webhook_id],
            limit=limit,
            after=after,
            convert=_delivery,
        )

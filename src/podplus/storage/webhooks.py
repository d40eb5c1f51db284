"""The webhooks table: where each user wants which events POSTed.

A webhook row holds its URL, the events wanted and the signing secret, sealed (the
store never sees it in the clear: ``podplus.security.webhook_secrets``). An owner may have
only so many (``create(max_per_owner=…)``), counted in the statement that inserts.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

import sqlalchemy as sa
from databases import Database

from podplus.errors import WebhookQuotaExceeded
from podplus.storage.pages import PageOf, Position, newest_first
from podplus.storage.schema import users, webhook_deliveries, webhooks


class WebhookEvent(StrEnum):
    """The events a webhook may ask for."""

    JOB_SUCCEEDED = "job.succeeded"
    JOB_FAILED = "job.failed"
    JOB_CANCELLED = "job.cancelled"
    EPISODE_PUBLISHED = "episode.published"


# Sent on request only (``POST /api/webhooks/{id}/test``), whatever the webhook asked for.
TEST_EVENT = "webhook.test"


@dataclass(frozen=True)
class Webhook:
    id: str
    owner_id: str
    url: str
    events: tuple[WebhookEvent, ...]
    secret_sealed: str
    created_at: float

    def wants(self, event: str) -> bool:
        return event in self.events


def _webhook(row: object) -> Webhook:
    mapping = dict(row._mapping)  # type: ignore[attr-defined]
    mapping["events"] = tuple(WebhookEvent(name) for name in mapping["events"].split(",") if name)
    return Webhook(**mapping)


class WebhookStore:
    def __init__(self, database: Database, *, clock: Callable[[], float] = time.time) -> None:
        self._db = database
        self._clock = clock

    async def create(
        self,
        *,
        webhook_id: str,
        owner_id: str,
        url: str,
        events: Sequence[WebhookEvent],
        secret_sealed: str,
        max_per_owner: int,
    ) -> Webhook:
        """Add the webhook; ``WebhookQuotaExceeded`` if its owner has ``max_per_owner``.

        The count and the insert are one statement (on PostgreSQL after locking the owner's
        row), so two requests at once can't both take the last place.
        """
        webhook = Webhook(
            id=webhook_id,
            owner_id=owner_id,
            url=url,
            events=tuple(dict.fromkeys(events)),
            secret_sealed=secret_sealed,
            created_at=self._clock(),
        )
        row = {**webhook.__dict__, "events": ",".join(event.value for event in webhook.events)}
        count = (
            sa.select(sa.func.count())
            .select_from(webhooks)
            .where(webhooks.c.owner_id == owner_id)
            .scalar_subquery()
        )
        values = sa.select(
            *(
                sa.literal(value, type_=webhooks.c[name].type).label(name)
                for name, value in row.items()
            )
        ).where(count < max_per_owner)
        insert = webhooks.insert().from_select(list(row), values).returning(webhooks.c.id)
        async with self._db.transaction():
            if self._db.url.dialect == "postgresql":
                await self._db.execute(
                    sa.select(users.c.id).where(users.c.id == owner_id).with_for_update()
                )
            inserted = await self._db.fetch_val(insert)
        if inserted is None:
            raise WebhookQuotaExceeded(limit=max_per_owner)
        return webhook

    async def get(self, webhook_id: str, *, owner_id: str) -> Webhook | None:
        row = await self._db.fetch_one(
            webhooks.select().where(webhooks.c.id == webhook_id, webhooks.c.owner_id == owner_id)
        )
        return None if row is None else _webhook(row)

    async def owned_by(
        self, *, owner_id: str, limit: int, after: Position | None = None
    ) -> PageOf[Webhook]:
        return await newest_first(
            self._db,
            webhooks,
            where=[webhooks.c.owner_id == owner_id],
            limit=limit,
            after=after,
            convert=_webhook,
        )

    async def subscribed(self, owner_id: str, event: str) -> list[Webhook]:
        """The owner's webhooks that asked for ``event`` (a handful: the count is capped)."""
        rows = await self._db.fetch_all(webhooks.select().where(webhooks.c.owner_id == owner_id))
        return [webhook for webhook in map(_webhook, rows) if webhook.wants(event)]

    async def delete(self, webhook_id: str, *, owner_id: str) -> bool:
        """Delete the webhook and its delivery log; False if the owner has no such webhook.

        A delivery in flight finds its row gone and records nothing.
        """
        async with self._db.transaction():
            found = await self._db.fetch_val(
                sa.select(webhooks.c.id).where(
                    webhooks.c.id == webhook_id, webhooks.c.owner_id == owner_id
                )
            )
            if found is None:
                return False
            await self._db.execute(
                webhook_deliveries.delete().where(webhook_deliveries.c.webhook_id == webhook_id)
            )
            await self._db.execute(webhooks.delete().where(webhooks.c.id == webhook_id))
        return True

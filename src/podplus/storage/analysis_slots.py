"""How many uploads one owner has being analysed, counted in the database, so the limit
(``PODPLUS_MAX_ANALYSES_PER_USER``) holds across every server behind one address.

An owner has ``per_owner`` numbered slots: rows keyed by (owner, number). Taking one is one
atomic upsert per number, tried in turn: insert the row, or take it over if its lease has
lapsed (``ON CONFLICT … DO UPDATE … WHERE expires_at <= now … RETURNING``); the first
number that answers a row is ours, and when none does the owner is at the limit. However
many requests race, on however many servers, a number goes to one of them.

While the analysis runs its server pushes the lease forward every ``lease_s / 3``; when it
ends the row is deleted. A server killed mid-analysis deletes nothing, and its rows lapse
``lease_s`` later: a crash costs the owner a slot for that long, never for good.

    async with slots.hold(user.id):    # or AnalysisBusy
        ...
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from databases import Database
from sqlalchemy.dialects import postgresql, sqlite

from podplus.errors import AnalysisBusy
from podplus.ids import new_id
from podplus.storage.schema import analysis_slots

logger = logging.getLogger(__name__)

# How long a slot outlives its server's last renewal: the most a crash keeps it taken.
SLOT_LEASE_S = 30.0
# An owner over their limit is asked to come back about when a short analysis ends.
BUSY_RETRY_AFTER_S = 5

slots = analysis_slots


class AnalysisSlots:
    """The ``analysis_slots`` table: ``per_owner`` slots per owner, leased for ``lease_s``.

    ``clock`` tells the time (epoch seconds) and ``sleep`` waits between renewals, so a
    test moves time instead of waiting for it.
    """

    def __init__(
        self,
        database: Database,
        *,
        per_owner: int,
        lease_s: float = SLOT_LEASE_S,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._db = database
        self._per_owner = per_owner
        self._lease_s = lease_s
        self._clock = clock
        self._sleep = sleep
        self._insert = postgresql.insert if database.url.dialect == "postgresql" else sqlite.insert

    @contextlib.asynccontextmanager
    async def hold(self, owner_id: str) -> AsyncIterator[int]:
        """Hold one of the owner's slots (its number) for the block, or raise
        ``AnalysisBusy`` when every one is held."""
        holder = new_id()
        slot = await self.take(owner_id, holder=holder)
        if slot is None:
            raise AnalysisBusy(limit=self._per_owner, retry_after_s=BUSY_RETRY_AFTER_S)
        renewing = asyncio.create_task(self._keep(owner_id, slot, holder=holder))
        try:
            yield slot
        finally:
            renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewing
            await self._release(owner_id, slot, holder=holder)

    async def take(self, owner_id: str, *, holder: str) -> int | None:
        """Take a free (or lapsed) slot of the owner's for ``holder``: its number, or None."""
        now = self._clock()
        for slot in range(self._per_owner):
            statement = (
                self._insert(slots)
                .values(owner_id=owner_id, slot=slot, holder=holder, expires_at=now + self._lease_s)
                .on_conflict_do_update(
                    index_elements=[slots.c.owner_id, slots.c.slot],
                    set_={"holder": holder, "expires_at": now + self._lease_s},
                    where=slots.c.expires_at <= now,
                )
                .returning(slots.c.slot)
            )
            if await self._db.fetch_one(statement) is not None:
                return slot
        return None

    async def held(self, owner_id: str) -> int:
        """How many of the owner's slots are held now."""
        rows = await self._db.fetch_all(
            slots.select().where(slots.c.owner_id == owner_id, slots.c.expires_at > self._clock())
        )
        return len(rows)

    async def renew(self, owner_id: str, slot: int, *, holder: str) -> bool:
        """Push the slot's lease forward; False if ``holder`` no longer has it."""
        row = await self._db.fetch_one(
            slots.update()
            .where(slots.c.owner_id == owner_id, slots.c.slot == slot, slots.c.holder == holder)
            .values(expires_at=self._clock() + self._lease_s)
            .returning(slots.c.slot)
        )
        return row is not None

    async def _keep(self, owner_id: str, slot: int, *, holder: str) -> None:
        while True:
            await self._sleep(self._lease_s / 3)
            try:
                if not await self.renew(owner_id, slot, holder=holder):
                    # It lapsed (this server stalled longer than the lease) and another
                    # request took it: the limit was exceeded by one, briefly; say so.
                    logger.warning("event=analysis_slot.lost owner_id=%s slot=%s", owner_id, slot)
                    return
            except Exception:
                # The database is away: the lease may lapse, which only loosens a limit.
                logger.warning(
                    "event=analysis_slot.renew_failed owner_id=%s slot=%s",
                    owner_id, slot, exc_info=True,
                )  # fmt: skip

    async def _release(self, owner_id: str, slot: int, *, holder: str) -> None:
        try:
            await self._db.execute(
                slots.delete().where(
                    slots.c.owner_id == owner_id, slots.c.slot == slot, slots.c.holder == holder
                )
            )
        except Exception:
            # Not fatal: the row lapses ``lease_s`` from its last renewal.
            logger.warning(
                "event=analysis_slot.release_failed owner_id=%s slot=%s",
                owner_id, slot, exc_info=True,
            )  # fmt: skip

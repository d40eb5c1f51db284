"""Attempt counters for the throttles: one row per bucket, changed by one atomic statement.

A bucket names what is counted (``pair 203.0.113.9 ada@example.com``, ``address …``,
``account …``, ``signup …``); the policy (how many attempts are free, how long each one
past them waits) belongs to ``podplus.security.throttle`` and arrives here as numbers.

The point of this module is ``take``: it counts an attempt *before* the password is
checked, and only if the bucket allows one now, in a single ``INSERT … ON CONFLICT DO
UPDATE … WHERE … RETURNING`` statement. However many requests race — in one process or
in several sharing the database — each sees the count the others left, so no more than the
allowance get through (SQLite serialises writers; PostgreSQL re-checks the ``WHERE``
against the row it locked).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from databases import Database
from sqlalchemy.dialects import postgresql, sqlite

from podplus.storage.schema import throttle_counters

counters = throttle_counters


@dataclass(frozen=True)
class Counter:
    attempts: int
    last_attempt_at: float
    trusted_until: float | None


def _counter(row: Any) -> Counter:
    mapping = row._mapping
    return Counter(
        attempts=int(mapping["attempts"]),
        last_attempt_at=float(mapping["last_attempt_at"]),
        trusted_until=mapping["trusted_until"],
    )


class CounterStore:
    """The ``throttle_counters`` table."""

    def __init__(self, database: Database) -> None:
        self._db = database
        self._insert = postgresql.insert if database.url.dialect == "postgresql" else sqlite.insert

    async def take(
        self,
        bucket: str,
        *,
        now: float,
        allowance: int,
        delays_s: Sequence[float],
        forget_before: float,
    ) -> Counter | None:
        """Count one attempt against ``bucket`` if it may have one at ``now``; return the
        counter as it is after, or None (and count nothing) when the attempt must wait.

        A bucket may have an attempt when its last one was at or before ``forget_before``
        (the count starts again at 1), when it has had fewer than ``allowance``, or when
        ``delays_s[attempts - allowance]`` (the last entry for any beyond) has passed since
        its last one.
        """
        # Typed, or PostgreSQL can't tell what ``float + $1`` adds.
        wait_s: sa.ColumnElement[float] = sa.cast(delays_s[-1], sa.Float)
        if len(delays_s) > 1:
            wait_s = sa.case(
                *[
                    (counters.c.attempts == allowance + step, sa.cast(delay, sa.Float))
                    for step, delay in enumerate(delays_s[:-1])
                ],
                else_=wait_s,
            )
        forgotten = counters.c.last_attempt_at <= forget_before
        statement = (
            self._insert(counters)
            .values(bucket=bucket, attempts=1, last_attempt_at=now)
            .on_conflict_do_update(
                index_elements=[counters.c.bucket],
                set_={
                    "attempts": sa.case((forgotten, 1), else_=counters.c.attempts + 1),
                    "last_attempt_at": now,
                },
                where=sa.or_(
                    forgotten,
                    counters.c.attempts < allowance,
                    counters.c.last_attempt_at + wait_s <= now,
                ),
            )
            .returning(counters.c.attempts, counters.c.last_attempt_at, counters.c.trusted_until)
        )
        row = await self._db.fetch_one(statement)
        return None if row is None else _counter(row)

    async def get(self, bucket: str) -> Counter | None:
        row = await self._db.fetch_one(counters.select().where(counters.c.bucket == bucket))
        return None if row is None else _counter(row)

    async def give_back(self, bucket: str) -> None:
        """Uncount one attempt: it turned out not to be a failure, or never ran."""
        await self._db.execute(
            counters.update()
            .where(counters.c.bucket == bucket, counters.c.attempts > 0)
            .values(attempts=counters.c.attempts - 1)
        )

    async def clear(self, bucket: str, *, trusted_until: float | None = None) -> None:
        """Forget the bucket's attempts; ``trusted_until`` marks it trusted until then."""
        await self._db.execute(
            counters.update()
            .where(counters.c.bucket == bucket)
            .values(attempts=0, trusted_until=trusted_until)
        )

    async def prune(self, *, before: float, now: float) -> None:
        """Drop buckets idle since ``before`` that nothing trusts any more."""
        await self._db.execute(
            counters.delete().where(
                counters.c.last_attempt_at < before,
                sa.or_(counters.c.trusted_until.is_(None), counters.c.trusted_until < now),
            )
        )

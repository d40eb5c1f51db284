"""Reading a user's rows a page at a time, newest first, by keyset.

A page ends at a ``Position``: the ``(created_at, id)`` of its last row. The next page is
the rows strictly older than that position in the same order, so rows added meanwhile
(always newer) neither repeat nor push older ones out of sight, as an OFFSET would. The
id breaks ties between rows created in the same instant. Turning a position into the
opaque cursor a client sees is the web layer's business (``podplus.web.paging``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import sqlalchemy as sa
from databases import Database

T = TypeVar("T")


@dataclass(frozen=True)
class Position:
    """Where a page ended: the creation time and id of its last row."""

    created_at: float
    id: str


@dataclass(frozen=True)
class PageOf(Generic[T]):
    items: list[T]
    # Where the next page starts; None when this one reached the oldest row.
    next: Position | None


async def newest_first(
    database: Database,
    table: sa.Table,
    *,
    where: Sequence[sa.ColumnElement[bool]],
    limit: int,
    after: Position | None,
    convert: Callable[[Any], T],
) -> PageOf[T]:
    """Up to ``limit`` rows of ``table`` matching ``where``, newest first, older than
    ``after`` when given. ``table`` has ``created_at`` and ``id`` columns."""
    if limit < 1:
        raise ValueError(f"a page holds at least one row, not {limit}")
    created_at, row_id = table.c.created_at, table.c.id
    query = table.select().where(*where)
    if after is not None:
        # (created_at, id) < (after.created_at, after.id), spelt out: every database
        # understands this form and uses the (owner_id, created_at) index for it.
        query = query.where(
            sa.or_(
                created_at < after.created_at,
                sa.and_(created_at == after.created_at, row_id < after.id),
            )
        )
    # One row more than asked for says whether there is a next page, with no count.
    rows = await database.fetch_all(
        query.order_by(created_at.desc(), row_id.desc()).limit(limit + 1)
    )
    items = [convert(row) for row in rows[:limit]]
    following = None
    if len(rows) > limit:
        last = rows[limit - 1]._mapping
        following = Position(created_at=float(last["created_at"]), id=str(last["id"]))
    return PageOf(items=items, next=following)

"""Downloads, counted the way podcast hosts count them (IAB Podcast Measurement v2.2).

A listener is a keyed hash of their address and user agent (``podplus.security.listeners``);
the address itself is never stored. However many ranges one listener fetches of one
episode, they are one download per 24 h window: the first request opens a window, and a
request after it closed opens the next. Counting is one upsert on the window's row (the
database decides atomically whether a window opened, so concurrent range requests of one
app count once) and, when one did, one upsert on the day's count.

    counted = await downloads.record(episode_id=..., show_id=..., listener=..., now=...)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from databases import Database
from sqlalchemy.dialects import postgresql, sqlite

from podplus.storage.schema import download_counts, download_windows

WINDOW_S = 24 * 3600.0
# Closed windows are deleted at most this often (by the next download counted after).
PRUNE_EVERY_S = 3600.0


@dataclass(frozen=True)
class DayCount:
    episode_id: str
    day: str  # YYYY-MM-DD, UTC
    downloads: int


def utc_day(epoch_s: float) -> str:
    """>>> utc_day(0)
    '1970-01-01'
    """
    return dt.datetime.fromtimestamp(epoch_s, tz=dt.UTC).date().isoformat()


class DownloadStore:
    def __init__(self, database: Database, *, window_s: float = WINDOW_S) -> None:
        self._db = database
        self._window_s = window_s
        self._pruned_at: float | None = None

    def _insert(self, table: sa.Table) -> Any:
        dialect = postgresql if self._db.url.dialect == "postgresql" else sqlite
        return dialect.insert(table)

    async def record(self, *, episode_id: str, show_id: str, listener: str, now: float) -> bool:
        """Count one request of ``listener`` for the episode; True when it was a new download."""
        window = self._insert(download_windows).values(
            episode_id=episode_id, listener=listener, window_started_at=now
        )
        window = window.on_conflict_do_update(
            index_elements=[download_windows.c.episode_id, download_windows.c.listener],
            set_={"window_started_at": window.excluded.window_started_at},
            # Only a closed window starts again; an open one leaves the row (and RETURNING)
            # untouched.
            where=download_windows.c.window_started_at <= now - self._window_s,
        ).returning(download_windows.c.episode_id)
        count = self._insert(download_counts).values(
            episode_id=episode_id, day=utc_day(now), show_id=show_id, downloads=1
        )
        count = count.on_conflict_do_update(
            index_elements=[download_counts.c.episode_id, download_counts.c.day],
            set_={"downloads": download_counts.c.downloads + 1},
        )
        async with self._db.transaction():
            opened = await self._db.fetch_val(window)
            if opened is not None:
                await self._db.execute(count)
        if opened is not None and (
            self._pruned_at is None or now - self._pruned_at >= PRUNE_EVERY_S
        ):
            self._pruned_at = now
            await self.prune(now=now)
        return opened is not None

    async def prune(self, *, now: float) -> None:
        """Forget the windows that have closed (their downloads stay counted)."""
        await self._db.execute(
            download_windows.delete().where(
                download_windows.c.window_started_at <= now - self._window_s
            )
        )

    async def totals(self, episode_ids: Sequence[str]) -> dict[str, int]:
        """All-time downloads of each episode (0 for none)."""
        if not episode_ids:
            return {}
        rows = await self._db.fetch_all(
            sa.select(download_counts.c.episode_id, sa.func.sum(download_counts.c.downloads))
            .where(download_counts.c.episode_id.in_(list(episode_ids)))
            .group_by(download_counts.c.episode_id)
        )
        found = {str(row[0]): int(row[1]) for row in rows}
        return {episode_id: found.get(episode_id, 0) for episode_id in episode_ids}

    async def by_day(self, show_id: str, *, since_day: str) -> list[DayCount]:
        """The show's downloads per episode and day, from ``since_day`` on, by day."""
        rows = await self._db.fetch_all(
            sa.select(
                download_counts.c.episode_id, download_counts.c.day, download_counts.c.downloads
            )
            .where(download_counts.c.show_id == show_id, download_counts.c.day >= since_day)
            .order_by(download_counts.c.day, download_counts.c.episode_id)
        )
        return [DayCount(str(row[0]), str(row[1]), int(row[2])) for row in rows]

"""Rendered feeds, kept in memory: apps poll every feed every few minutes, and a feed of a
few hundred episodes costs far more to build than to look up.

A rendering is keyed on the show and its ``feed_changed_at`` (read with the show on every
request, so a change made by any process is seen at once), and lasts until the show's next
scheduled episode goes live. Concurrent misses share one rendering (``ExpiringCache``);
the number kept is bounded.

    feed = await cache.get(show.id, changed_at=show.feed_changed_at, now=now, render=...)
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from podplus.caching import ExpiringCache

# A feed of 300 episodes is ~300 KB (and a tenth of that gzipped): a few tens of MB at most.
MAX_CACHED_FEEDS = 128
# A rendering no one asked for in this long is let go when the cache is next full.
CACHED_FEED_TTL_S = 3600.0


@dataclass(frozen=True)
class RenderedFeed:
    body: bytes
    gzipped: bytes
    etag: str
    last_modified_s: float
    # When it stops being right by itself: the next scheduled episode's time (None: never).
    valid_until: float | None


class FeedCache:
    def __init__(
        self, *, max_entries: int = MAX_CACHED_FEEDS, ttl_s: float = CACHED_FEED_TTL_S
    ) -> None:
        self._cache: ExpiringCache[tuple[str, float], RenderedFeed] = ExpiringCache(
            ttl_s=ttl_s, max_entries=max_entries
        )

    async def get(
        self,
        show_id: str,
        *,
        changed_at: float,
        now: float,
        render: Callable[[], Awaitable[RenderedFeed]],
    ) -> RenderedFeed:
        """The show's feed as of ``changed_at`` and ``now``, rendered only if need be."""
        key = (show_id, changed_at)
        feed = await self._cache.get(key, render)
        if feed.valid_until is not None and feed.valid_until <= now:
            # A scheduled episode went live since: the same key, a new feed.
            self._cache.drop(key)
            feed = await self._cache.get(key, render)
        return feed

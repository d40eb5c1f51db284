"""A small in-process cache whose entries expire, and which loads each missing key once.

When an entry expires under load, every request in flight at that moment would miss
together and repeat the same costly load (a feed rendering, once it was account lookups),
which shows up as a stall of the whole API every TTL. Here concurrent misses for one key
share one load.

Only for what is right in every process by construction: a key that names the version of
what it caches (the rendered feed is keyed on the show's ``feed_changed_at``, read from
the database per request). Several servers share one database, so nothing whose change
another process makes must be seen at once (an account, a revoked token) is cached here.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

Key = TypeVar("Key")
Value = TypeVar("Value")


class ExpiringCache(Generic[Key, Value]):
    """``get(key, load)`` answers from the cache for ``ttl_s``; a miss runs ``load`` once
    however many callers are waiting for it. ``drop(key)`` forgets an entry at once (a load
    already under way for it is not stored)."""

    def __init__(
        self,
        *,
        ttl_s: float,
        max_entries: int,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl_s = ttl_s
        self._max_entries = max_entries
        self._monotonic = monotonic
        self._entries: dict[Key, tuple[float, Value]] = {}
        self._loading: dict[Key, asyncio.Future[Value]] = {}

    async def get(self, key: Key, load: Callable[[], Awaitable[Value]]) -> Value:
        entry = self._entries.get(key)
        if entry is not None and entry[0] > self._monotonic():
            return entry[1]
        if self._ttl_s <= 0:
            return await load()
        pending = self._loading.get(key)
        if pending is None:
            pending = asyncio.ensure_future(load())
            self._loading[key] = pending
            pending.add_done_callback(lambda done: self._loaded(key, done))
        # A caller that gives up must not cancel the load the others are waiting for.
        return await asyncio.shield(pending)

    def drop(self, key: Key) -> None:
        self._entries.pop(key, None)
        self._loading.pop(key, None)

    def _loaded(self, key: Key, done: asyncio.Future[Value]) -> None:
        if self._loading.get(key) is not done:
            return  # dropped while loading: the answer may be stale
        del self._loading[key]
        if done.cancelled() or done.exception() is not None:
            return
        if len(self._entries) >= self._max_entries:
            self._entries.clear()
        self._entries[key] = (self._monotonic() + self._ttl_s, done.result())

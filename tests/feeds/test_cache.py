"""The rendered-feed cache: one rendering per change of a show's feed, a new one when a
scheduled episode's time comes, and a bounded number kept."""

from __future__ import annotations

import asyncio

from podplus.feeds.cache import FeedCache, RenderedFeed


class Renderer:
    """Counts renderings; each is valid until ``valid_until``."""

    def __init__(self, valid_until: float | None = None) -> None:
        self.count = 0
        self.valid_until = valid_until

    async def __call__(self) -> RenderedFeed:
        self.count += 1
        await asyncio.sleep(0)
        body = f"feed {self.count}".encode()
        return RenderedFeed(
            body=body, gzipped=body, etag=f'W/"{self.count}"', last_modified_s=0.0,
            valid_until=self.valid_until,
        )  # fmt: skip


async def test_a_feed_is_rendered_once_per_change_however_many_poll_it() -> None:
    cache, render = FeedCache(), Renderer()
    feeds = await asyncio.gather(
        *(cache.get("s", changed_at=1.0, now=10.0, render=render) for _ in range(20))
    )
    assert render.count == 1 and {feed.body for feed in feeds} == {b"feed 1"}
    assert (await cache.get("s", changed_at=1.0, now=11.0, render=render)).body == b"feed 1"
    # A change (any process's: it is read with the show) is a new rendering.
    assert (await cache.get("s", changed_at=1.001, now=12.0, render=render)).body == b"feed 2"
    assert (await cache.get("t", changed_at=1.001, now=12.0, render=render)).body == b"feed 3"


async def test_a_scheduled_episode_going_live_renders_the_feed_again() -> None:
    cache, render = FeedCache(), Renderer(valid_until=100.0)
    assert (await cache.get("s", changed_at=1.0, now=99.0, render=render)).body == b"feed 1"
    assert (await cache.get("s", changed_at=1.0, now=99.9, render=render)).body == b"feed 1"
    assert (await cache.get("s", changed_at=1.0, now=100.0, render=render)).body == b"feed 2"


async def test_the_cache_keeps_a_bounded_number_of_feeds() -> None:
    cache, render = FeedCache(max_entries=2), Renderer()
    for show in ("a", "b", "c"):
        await cache.get(show, changed_at=1.0, now=1.0, render=render)
    assert render.count == 3
    # Full, it let the older ones go: asked again, "a" is rendered again.
    await cache.get("a", changed_at=1.0, now=1.0, render=render)
    assert render.count == 4

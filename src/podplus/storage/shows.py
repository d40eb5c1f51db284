"""Shows: a podcast's feed details, artwork and preset, always scoped to its owner.

A show's ``defaults`` are its preset: ``ShowDefaults.fill`` gives a new episode of the
show what it leaves out (the intro, outro and bed whole; loudness, output and tags key by
key), so a weekly show is set up once. The blocks are the episode spec's own
(``podplus.engine.spec``), so a default has exactly the limits of the field it fills.

A slug, once a show has had it, stays its owner's for ever (``show_slugs``): apps
subscribed to ``/feeds/<old-slug>.xml`` are sent on to the show's feed, never to a
stranger's show that took the address. The claim is one upsert on the slug's row, so two
requests can't both win it.

``feed_changed_at`` grows whenever anything the feed shows changes (``feed_changed``): it
is the feed's Last-Modified and the key of its cached rendering.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import sqlalchemy as sa
from databases import Database
from sqlalchemy.dialects import postgresql, sqlite

from podplus.engine.spec import Block, Loudness, MediaId, MusicBed, Output, Tags
from podplus.errors import ShowQuotaExceeded, SlugTaken
from podplus.storage.pages import PageOf, Position, newest_first
from podplus.storage.schema import show_slugs, shows, users

# At least how far a change moves ``feed_changed_at`` past the last one. It keys the cached
# feed, so every change must change it; and it is the feed's Last-Modified, an HTTP date in
# whole seconds, so two changes in one second must differ there too (or an app that polled
# between them would get a 304 for the second). A burst of changes may so run a few
# seconds ahead of the clock, which the clock then catches up with.
_CHANGE_STEP_S = 1.0


class ShowDefaults(Block):
    """What a new episode of the show gets for what it leaves out."""

    intro_id: MediaId | None = None
    outro_id: MediaId | None = None
    music_bed: MusicBed | None = None
    loudness: Loudness | None = None
    output: Output | None = None
    tags: Tags | None = None

    def media_refs(self) -> list[tuple[str, str]]:
        """(field path, media id) for every file the preset names."""
        refs = [
            (f"defaults.{name}", value)
            for name, value in (("intro_id", self.intro_id), ("outro_id", self.outro_id))
            if value is not None
        ]
        if self.music_bed is not None:
            refs.append(("defaults.music_bed.media_id", self.music_bed.media_id))
        return refs

    def fill(self, episode: Mapping[str, Any]) -> dict[str, Any]:
        """``episode`` (a request's JSON object, not yet validated) with what it leaves out
        taken from the preset; the result is validated as any episode is.

        >>> ShowDefaults(intro_id="i", tags={"artist": "A"}).fill({"tags": {"year": 2026}})
        {'tags': {'artist': 'A', 'year': 2026}, 'intro_id': 'i'}
        """
        filled = dict(episode)
        preset = self.model_dump(exclude_none=True)
        for name, value in preset.items():
            given = filled.get(name)
            if name not in filled:
                filled[name] = value
            elif isinstance(value, dict) and isinstance(given, dict) and name != "music_bed":
                # A block: the episode's own keys win, the preset fills the others.
                filled[name] = {**value, **given}
        return filled


@dataclass(frozen=True)
class Show:
    id: str
    owner_id: str
    feed_id: str
    slug: str | None
    podcast_guid: str
    title: str
    description: str
    author: str
    owner_name: str
    owner_email: str
    language: str
    category: str
    subcategory: str | None
    explicit: bool
    show_type: str
    link: str | None
    copyright: str | None
    locked: bool
    defaults: ShowDefaults
    artwork_name: str | None
    artwork_size_px: int | None
    created_at: float
    updated_at: float
    feed_changed_at: float = 0.0


@dataclass(frozen=True)
class RetiredSlug:
    """A slug a show had and has no more; ``show`` is where its feed is now (None: the
    show was deleted)."""

    slug: str
    show: Show | None


# What a change may touch; ids, the feed's identity and the artwork have their own ways.
EDITABLE = frozenset(
    {
        "slug", "title", "description", "author", "owner_name", "owner_email", "language",
        "category", "subcategory", "explicit", "show_type", "link", "copyright", "locked",
        "defaults",
    }
)  # fmt: skip


def feed_changed(where: sa.ColumnElement[bool], *, now: float) -> sa.Update:
    """The statement marking the feeds of the shows ``where`` picks as changed at ``now``,
    or a second after their last change if that is later (the clock stood still or went
    back). Run it in the transaction that makes the change, so a feed read after it sees
    both or neither."""
    moment = sa.literal(now, sa.Float)
    step = shows.c.feed_changed_at + _CHANGE_STEP_S
    return (
        shows.update()
        .where(where)
        .values(feed_changed_at=sa.case((step <= moment, moment), else_=step))
    )


def _show(row: object) -> Show:
    mapping = dict(row._mapping)  # type: ignore[attr-defined]
    # Validated when written; reading trusts it.
    mapping["defaults"] = ShowDefaults.model_validate_json(mapping["defaults"], strict=False)
    mapping["explicit"] = bool(mapping["explicit"])
    mapping["locked"] = bool(mapping["locked"])
    return Show(**mapping)


def _values(show: Show) -> dict[str, Any]:
    return {**show.__dict__, "defaults": show.defaults.model_dump_json()}


class ShowStore:
    def __init__(self, database: Database, *, clock: Callable[[], float] = time.time) -> None:
        self._db = database
        self._clock = clock

    async def add_within(self, show: Show, *, max_shows: int) -> None:
        """Add ``show`` unless its owner has ``max_shows`` already (``ShowQuotaExceeded``)
        or its slug is, or was, another owner's (``SlugTaken``); the count is checked by
        the INSERT itself, as for media (``MediaStore.add_within``)."""
        values = _values(show)
        owned = sa.select(sa.func.count()).where(shows.c.owner_id == show.owner_id)
        row = sa.select(
            *(sa.cast(sa.literal(values[c.name], c.type), c.type) for c in shows.columns)
        ).where(owned.scalar_subquery() < max_shows)
        try:
            async with self._db.transaction():
                if self._db.url.dialect == "postgresql":
                    await self._db.execute(
                        sa.select(users.c.id).where(users.c.id == show.owner_id).with_for_update()
                    )
                if show.slug is not None:
                    await self._claim(show.slug, owner_id=show.owner_id, show_id=show.id)
                await self._db.execute(shows.insert().from_select(list(shows.columns), row))
                added = sa.select(shows.c.id).where(shows.c.id == show.id)
                if await self._db.fetch_val(added) is None:
                    raise ShowQuotaExceeded(limit=max_shows)  # and the claim is undone
        except (SlugTaken, ShowQuotaExceeded):
            raise
        except Exception as exc:
            # The unique index is the guard against two of one owner's shows racing.
            if show.slug is not None and await self.by_feed_key(show.slug) is not None:
                raise SlugTaken(show.slug) from exc
            raise

    async def get(self, show_id: str, *, owner_id: str | None = None) -> Show | None:
        query = shows.select().where(shows.c.id == show_id)
        if owner_id is not None:
            query = query.where(shows.c.owner_id == owner_id)
        row = await self._db.fetch_one(query)
        return None if row is None else _show(row)

    async def by_feed_key(self, key: str) -> Show | None:
        """The show whose feed is at ``key``: its feed id, or its slug."""
        row = await self._db.fetch_one(
            shows.select().where(sa.or_(shows.c.feed_id == key, shows.c.slug == key))
        )
        return None if row is None else _show(row)

    async def retired_slug(self, slug: str) -> RetiredSlug | None:
        """What became of ``slug``, if a show had it (ask for a slug no show has now)."""
        show_id = await self._db.fetch_val(
            sa.select(show_slugs.c.show_id).where(show_slugs.c.slug == slug)
        )
        if show_id is None:
            return None
        return RetiredSlug(slug=slug, show=await self.get(str(show_id)))

    async def by_artwork_name(self, name: str) -> Show | None:
        row = await self._db.fetch_one(shows.select().where(shows.c.artwork_name == name))
        return None if row is None else _show(row)

    async def owned_by(
        self, *, owner_id: str, limit: int, after: Position | None = None
    ) -> PageOf[Show]:
        """One page of the owner's shows, newest first (see ``podplus.storage.pages``)."""
        return await newest_first(
            self._db,
            shows,
            where=[shows.c.owner_id == owner_id],
            limit=limit,
            after=after,
            convert=_show,
        )

    async def update(self, show: Show, **changes: Any) -> Show:
        """Write ``changes`` (fields of ``EDITABLE``) and return the show as it now is. A
        new slug is claimed for good; the one it replaces stays the owner's."""
        unknown = set(changes) - EDITABLE
        if unknown:
            raise ValueError(f"not editable: {sorted(unknown)}")
        now = self._clock()
        changed = replace(show, **changes, updated_at=now)
        values = {name: _values(changed)[name] for name in (*changes, "updated_at")}
        slug = changes.get("slug")
        try:
            async with self._db.transaction():
                if slug is not None:
                    await self._claim(slug, owner_id=show.owner_id, show_id=show.id)
                await self._db.execute(
                    feed_changed(shows.c.id == show.id, now=now).values(**values)
                )
        except SlugTaken:
            raise
        except Exception as exc:
            if slug is not None and await self.by_feed_key(slug) is not None:
                raise SlugTaken(slug) from exc
            raise
        return await self.get(show.id) or changed

    async def set_artwork(self, show_id: str, *, name: str, size_px: int) -> bool:
        """Name the show's artwork file; False when there is no such show (any more)."""
        now = self._clock()
        updated = await self._db.fetch_val(
            feed_changed(shows.c.id == show_id, now=now)
            .values(artwork_name=name, artwork_size_px=size_px, updated_at=now)
            .returning(shows.c.id)
        )
        return updated is not None

    async def _claim(self, slug: str, *, owner_id: str, show_id: str) -> None:
        """Make ``slug`` lead to ``show_id``, unless another owner's show has had it
        (``SlugTaken``). One statement, so the slug's row is the lock."""
        dialect = postgresql if self._db.url.dialect == "postgresql" else sqlite
        claim = dialect.insert(show_slugs).values(
            slug=slug, owner_id=owner_id, show_id=show_id, claimed_at=self._clock()
        )
        claim = claim.on_conflict_do_update(
            index_elements=[show_slugs.c.slug],
            set_={"show_id": claim.excluded.show_id, "claimed_at": claim.excluded.claimed_at},
            # Another owner's row stays as it was, and RETURNING gives nothing.
            where=show_slugs.c.owner_id == claim.excluded.owner_id,
        ).returning(show_slugs.c.slug)
        if await self._db.fetch_val(claim) is None:
            raise SlugTaken(slug)

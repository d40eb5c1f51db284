"""Publications: the row that puts an episode in its show's feed, naming its frozen audio.

Rows only; which public file a row may name, and when a file may go, is decided by
``podplus.storage.publishing.Publisher`` under ``PublicationStore.locked``: one lock per
episode, held while a row naming a file is written (the file is checked to be there) and
while a file no row names is removed, so the two never disagree.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from databases import Database

from podplus.feeds.chapters import Chapter, chapters_from_json, chapters_json
from podplus.feeds.identity import new_episode_guid
from podplus.storage.schema import download_counts, download_windows, episodes, publications, shows
from podplus.storage.shows import feed_changed


@dataclass(frozen=True)
class Publication:
    episode_id: str
    show_id: str
    owner_id: str
    published_at: float
    audio_name: str
    source_audio_name: str
    audio_size_bytes: int
    media_type: str
    duration_s: float
    chapters: tuple[Chapter, ...]
    season: int | None
    number: int | None
    episode_type: str
    explicit: bool | None
    created_at: float
    updated_at: float

    def is_live(self, now: float) -> bool:
        """In its feed: its publication time has come."""
        return self.published_at <= now

    @property
    def digest_stem(self) -> str:
        """``<guid>-<sha>``: the audio's name without its extension (chapters use it)."""
        return self.audio_name.rsplit(".", 1)[0]


@dataclass(frozen=True)
class FeedEntry:
    """A live publication with what its item shows of the episode."""

    publication: Publication
    guid: str
    title: str
    description: str
    updated_at: float  # the episode's


@dataclass(frozen=True)
class LockedEpisode:
    """The episode as it is while its lock is held: what a publication is checked against."""

    show_id: str | None
    audio_name: str | None


_COLUMNS = tuple(column.name for column in publications.columns)


def _publication(row: object) -> Publication:
    return _publication_from(dict(row._mapping))  # type: ignore[attr-defined]


def _publication_from(mapping: dict[str, Any]) -> Publication:
    mapping = {name: mapping[name] for name in _COLUMNS}
    mapping["chapters"] = chapters_from_json(mapping["chapters"])
    if mapping["explicit"] is not None:
        mapping["explicit"] = bool(mapping["explicit"])
    return Publication(**mapping)


def _values(publication: Publication) -> dict[str, object]:
    return {**publication.__dict__, "chapters": chapters_json(publication.chapters)}


class PublicationStore:
    def __init__(self, database: Database) -> None:
        self._db = database

    @asynccontextmanager
    async def locked(self, episode_id: str) -> AsyncIterator[LockedEpisode | None]:
        """A transaction holding the episode's lock (None: there is no such episode).

        The lock is a write to the episode's row, the transaction's first statement:
        PostgreSQL locks that row until the end, SQLite takes its one write lock. Either
        way a second holder waits (no "database is locked": it was never a reader)."""
        async with self._db.transaction():
            row = await self._db.fetch_one(
                episodes.update()
                .where(episodes.c.id == episode_id)
                .values(guid=episodes.c.guid)
                .returning(episodes.c.show_id, episodes.c.audio_name)
            )
            yield None if row is None else LockedEpisode(row[0], row[1])

    async def get(self, episode_id: str) -> Publication | None:
        row = await self._db.fetch_one(
            publications.select().where(publications.c.episode_id == episode_id)
        )
        return None if row is None else _publication(row)

    async def many(self, episode_ids: Sequence[str]) -> dict[str, Publication]:
        if not episode_ids:
            return {}
        rows = await self._db.fetch_all(
            publications.select().where(publications.c.episode_id.in_(list(episode_ids)))
        )
        return {item.episode_id: item for item in map(_publication, rows)}

    async def by_audio_name(self, names: Sequence[str]) -> Publication | None:
        """The publication whose public audio has one of ``names``."""
        row = await self._db.fetch_one(
            publications.select().where(publications.c.audio_name.in_(list(names)))
        )
        return None if row is None else _publication(row)

    async def live_in(self, show_id: str, *, now: float) -> list[FeedEntry]:
        """The show's publications whose time has come, newest first, with their episodes."""
        query = (
            sa.select(
                publications,
                episodes.c.guid,
                episodes.c.title,
                episodes.c.description,
                episodes.c.updated_at.label("episode_updated_at"),
            )
            .select_from(publications.join(episodes, episodes.c.id == publications.c.episode_id))
            .where(publications.c.show_id == show_id, publications.c.published_at <= now)
            .order_by(publications.c.published_at.desc(), publications.c.episode_id.desc())
        )
        return [
            FeedEntry(
                publication=_publication_from(dict(row._mapping)),
                guid=str(row._mapping["guid"]),
                title=str(row._mapping["title"]),
                description=str(row._mapping["description"]),
                updated_at=float(row._mapping["episode_updated_at"]),
            )
            for row in await self._db.fetch_all(query)
        ]

    async def next_scheduled(self, show_id: str, *, now: float) -> float | None:
        """When the show's next scheduled episode goes into its feed (None: none is)."""
        value = await self._db.fetch_val(
            sa.select(sa.func.min(publications.c.published_at)).where(
                publications.c.show_id == show_id, publications.c.published_at > now
            )
        )
        return None if value is None else float(value)

    async def live_counts(self, show_ids: Sequence[str], *, now: float) -> dict[str, int]:
        """How many episodes each show's feed has now."""
        if not show_ids:
            return {}
        rows = await self._db.fetch_all(
            sa.select(publications.c.show_id, sa.func.count())
            .where(publications.c.show_id.in_(list(show_ids)), publications.c.published_at <= now)
            .group_by(publications.c.show_id)
        )
        return {str(row[0]): int(row[1]) for row in rows}

    async def episode_titles(self, show_id: str, *, extra_ids: Sequence[str]) -> dict[str, str]:
        """The titles of the show's published episodes and of ``extra_ids`` (episodes
        that were downloaded from it), by id; oldest first."""
        in_show = sa.select(publications.c.episode_id).where(publications.c.show_id == show_id)
        rows = await self._db.fetch_all(
            sa.select(episodes.c.id, episodes.c.title)
            .where(sa.or_(episodes.c.id.in_(in_show), episodes.c.id.in_(list(extra_ids))))
            .order_by(episodes.c.created_at, episodes.c.id)
        )
        return {str(row[0]): str(row[1]) for row in rows}

    async def write(self, publication: Publication, *, now: float) -> None:
        """Insert or overwrite the episode's row, and mark its show's feed changed. Under
        ``locked``, with the file it names in place."""
        values = _values(publication)
        updated = await self._db.fetch_val(
            publications.update()
            .where(publications.c.episode_id == publication.episode_id)
            .values({k: v for k, v in values.items() if k not in ("episode_id", "created_at")})
            .returning(publications.c.episode_id)
        )
        if updated is None:
            await self._db.execute(publications.insert().values(**values))
        await self._db.execute(feed_changed(shows.c.id == publication.show_id, now=now))

    async def delete(self, episode_id: str, *, now: float) -> Publication | None:
        """Delete the episode's row (returned), and mark its show's feed changed."""
        before = await self.get(episode_id)
        if before is not None:
            await self._db.execute(
                publications.delete().where(publications.c.episode_id == episode_id)
            )
            await self._db.execute(feed_changed(shows.c.id == before.show_id, now=now))
        return before

    async def names_audio(self, name: str) -> bool:
        """Whether any row names the public audio ``name``."""
        found = await self._db.fetch_val(
            sa.select(publications.c.episode_id).where(publications.c.audio_name == name)
        )
        return found is not None

    async def delete_show(self, show_id: str) -> list[Publication]:
        """Delete the show: its episodes leave it (they stay their owner's), their
        publications and download counts (and the listener windows behind them) go.
        Returns the publications, whose files the caller removes."""
        async with self._db.transaction():
            # First, and a write: it takes the lock of each of the show's episodes (as
            # ``locked`` does), so no publication into the show is half done meanwhile.
            await self._db.execute(
                episodes.update().where(episodes.c.show_id == show_id).values(show_id=None)
            )
            rows = await self._db.fetch_all(
                publications.select().where(publications.c.show_id == show_id)
            )
            await self._db.execute(publications.delete().where(publications.c.show_id == show_id))
            counted = sa.select(download_counts.c.episode_id).where(
                download_counts.c.show_id == show_id
            )
            await self._db.execute(
                download_windows.delete().where(download_windows.c.episode_id.in_(counted))
            )
            await self._db.execute(
                download_counts.delete().where(download_counts.c.show_id == show_id)
            )
            await self._db.execute(shows.delete().where(shows.c.id == show_id))
        return [_publication(row) for row in rows]

    async def assign_guid(self, episode_id: str) -> str | None:
        """The episode's GUID, given now if it has none; None if the episode is gone."""
        await self._db.execute(
            episodes.update()
            .where(episodes.c.id == episode_id, episodes.c.guid.is_(None))
            .values(guid=new_episode_guid())
        )
        guid = await self._db.fetch_val(
            sa.select(episodes.c.guid).where(episodes.c.id == episode_id)
        )
        return None if guid is None else str(guid)

"""Publishing: an episode's audio frozen under a public name, and the row that names it.

Publishing copies nothing the creator can change later. The episode's current audio is
hard-linked (copied where the file system can't link; copied inside the bucket on S3) to
``public/audio/<guid>-<sha>.<ext>`` (``podplus.storage.public_files``): a name made of the
episode's GUID and the file's content, so its URL never serves other bytes. A new assembly
writes a new episode file and leaves the public one alone; only publishing again freezes
the new audio, under a new name (or the same one, for the same bytes). The episode's GUID
is given at its first publication and kept for ever.

Files and rows agree at every moment another request can see: a row naming a file is
written only under the episode's lock with the file in place (linked again if a racing
unpublish removed it), and a file is removed only under that lock once no row names it.
The slow parts (hashing, reading chapters) run before the lock is taken. A crash leaves at
worst a file nobody names, never a feed pointing at a missing file.

    publisher = Publisher(...)
    publication = await publisher.publish(episode, show, options)   # freeze, then name
    await publisher.unpublish(episode.id)                           # forget, then remove
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

from podplus.errors import Conflict, ObjectMissing, PublishRefused
from podplus.feeds.chapters import Chapter
from podplus.feeds.items import ENCLOSURE_TYPES
from podplus.storage.episodes import Episode, EpisodeStore
from podplus.storage.files import FileStore
from podplus.storage.objects import episode_key, public_audio_key
from podplus.storage.public_files import PublicFiles
from podplus.storage.publications import Publication, PublicationStore
from podplus.storage.shows import Show

logger = logging.getLogger(__name__)

ReadChapters = Callable[[Path], Awaitable[list[Chapter]]]


class PublishBlock(StrEnum):
    """Why an episode can't be published as it is."""

    NOT_READY = "not_ready"
    NO_SHOW = "no_show"
    FORMAT = "format"


@dataclass(frozen=True, kw_only=True)
class PublishOptions:
    """What a publish call says about the feed item; None keeps the earlier value (or the
    default, on a first publication). ``explicit`` None means "as the show says"."""

    published_at: float | None = None
    season: int | None = None
    number: int | None = None
    episode_type: str | None = None
    explicit: bool | None = None
    # Which of the four optional numbers/flags the caller sent (so null can clear them).
    sent: frozenset[str] = frozenset()


def publish_block(episode: Episode, show: Show | None) -> tuple[PublishBlock, str] | None:
    """Why ``episode`` can't be published into ``show`` (None: it can). Readiness of its
    job is the caller's to check; this judges the episode's own state."""
    if show is None:
        return PublishBlock.NO_SHOW, "The episode belongs to no show; set its show_id first."
    if not episode.audio_name:
        return PublishBlock.NOT_READY, "The episode has no assembled audio; assemble it first."
    suffix = Path(episode.audio_name).suffix
    if suffix not in ENCLOSURE_TYPES:
        return PublishBlock.FORMAT, (
            f"Podcast apps take mp3 or m4a audio, not {suffix.lstrip('.')}; set "
            "output.format and assemble again."
        )
    return None


class Publisher:
    """Publishes, unpublishes and deletes, keeping public files and rows in step."""

    def __init__(
        self,
        *,
        publications: PublicationStore,
        public: PublicFiles,
        files: FileStore,
        episodes: EpisodeStore,
        read_chapters: ReadChapters,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._publications = publications
        self._public = public
        self._files = files
        self._episodes = episodes
        self._read_chapters = read_chapters
        self._clock = clock

    async def publish(
        self, episode: Episode, show: Show | None, options: PublishOptions
    ) -> Publication:
        """Freeze the episode's current audio and put it in ``show``'s feed (again).

        A first publication appears at ``options.published_at`` (now by default); a
        republication keeps the earlier time, numbers and flags unless ``options`` says
        otherwise, and serves the current audio from then on. ``Conflict`` when the
        episode changed (or went) meanwhile."""
        block = publish_block(episode, show)
        if block is not None:
            raise PublishRefused(block[1], reason=block[0].value)
        assert show is not None and episode.audio_name is not None
        guid = episode.guid or await self._publications.assign_guid(episode.id)
        if guid is None:
            raise Conflict("The episode was deleted.")
        source_key = episode_key(episode.audio_name)
        async with self._readable(source_key) as source:
            try:
                name = await asyncio.to_thread(
                    self._public.audio_name,
                    source,
                    stem=guid.replace("-", ""),
                    suffix=Path(episode.audio_name).suffix,
                )
                await self._public.freeze_audio(source_key, name=name)
            except (FileNotFoundError, ObjectMissing):
                raise Conflict("The episode's audio changed while publishing; try again.") from None
            frozen = self._public.objects.local_path(public_audio_key(name))
            chapters = await self._read_chapters(frozen or source)
        try:
            publication, replaced = await self._name(episode, show, options, name, chapters)
        except Exception:
            await self._remove_unnamed(episode.id, name)
            raise
        if replaced is not None and replaced != name:
            await self._remove_unnamed(episode.id, replaced)
        logger.info(
            "event=publishing.published episode_id=%s show_id=%s audio_name=%s size_bytes=%d",
            episode.id, show.id, name, publication.audio_size_bytes,
        )  # fmt: skip
        return publication

    async def _name(
        self,
        episode: Episode,
        show: Show,
        options: PublishOptions,
        name: str,
        chapters: list[Chapter],
    ) -> tuple[Publication, str | None]:
        """Write the row naming ``name``, under the episode's lock; returns it and the
        name the row had before (None: it is a first publication)."""
        assert episode.audio_name is not None
        async with self._publications.locked(episode.id) as current:
            if current is None:
                raise Conflict("The episode was deleted.")
            if (current.show_id, current.audio_name) != (show.id, episode.audio_name):
                raise Conflict("The episode changed while publishing; try again.")
            try:
                # There already, unless an unpublish since removed it: then linked again.
                size_bytes = await self._public.freeze_audio(
                    episode_key(episode.audio_name), name=name
                )
            except ObjectMissing:
                raise Conflict("The episode's audio changed while publishing; try again.") from None
            now = self._clock()
            before = await self._publications.get(episode.id)
            publication = _merged(
                before,
                options,
                Publication(
                    episode_id=episode.id,
                    show_id=show.id,
                    owner_id=episode.owner_id,
                    published_at=now,
                    audio_name=name,
                    source_audio_name=episode.audio_name,
                    audio_size_bytes=size_bytes,
                    media_type=ENCLOSURE_TYPES[Path(episode.audio_name).suffix],
                    duration_s=float(episode.duration_s or 0.0),
                    chapters=tuple(chapters),
                    season=None,
                    number=None,
                    episode_type="full",
                    explicit=None,
                    created_at=now,
                    updated_at=now,
                ),
            )
            await self._publications.write(publication, now=now)
        return publication, None if before is None else before.audio_name

    async def unpublish(self, episode_id: str) -> None:
        """Take the episode out of its feed: the row first, then its public file. Its GUID
        stays with the episode."""
        async with self._publications.locked(episode_id):
            before = await self._publications.delete(episode_id, now=self._clock())
        if before is None:
            return
        await self._remove_unnamed(episode_id, before.audio_name)
        logger.info("event=publishing.unpublished episode_id=%s", episode_id)

    async def delete_episode(self, episode_id: str) -> None:
        """Delete the episode (its rows, publication included), then its audio file and its
        public file: once the episode is gone no row can name them again."""
        async with self._publications.locked(episode_id) as current:
            if current is None:
                return
            before = await self._publications.delete(episode_id, now=self._clock())
            await self._episodes.delete(episode_id)
        if current.audio_name:
            await self._public.objects.delete(episode_key(current.audio_name))
        if before is not None:
            await self._public.remove_audio(before.audio_name)

    async def delete_show(self, show: Show) -> None:
        """Delete the show (see ``PublicationStore.delete_show``), then its public files."""
        gone = await self._publications.delete_show(show.id)
        for publication in gone:
            await self._remove_unnamed(publication.episode_id, publication.audio_name)
        if show.artwork_name:
            await self._public.remove_artwork(show.artwork_name)
        logger.info("event=publishing.show_deleted show_id=%s unpublished=%d", show.id, len(gone))

    async def _remove_unnamed(self, episode_id: str, name: str) -> None:
        """Remove the public audio ``name`` (of ``episode_id``: its GUID is in the name)
        unless a row names it, deciding under the episode's lock."""
        async with self._publications.locked(episode_id):
            if not await self._publications.names_audio(name):
                await self._public.remove_audio(name)

    @asynccontextmanager
    async def _readable(self, key: str) -> AsyncIterator[Path]:
        """The object ``key`` as a file on this machine, to hash and to read chapters from:
        itself in a local store, else a temporary copy, removed after."""
        local = self._public.objects.local_path(key)
        if local is not None:
            yield local
            return
        temporary = self._files.incoming_path()
        try:
            try:
                await self._public.objects.fetch(key, temporary)
            except ObjectMissing:
                raise Conflict("The episode's audio changed while publishing; try again.") from None
            yield temporary
        finally:
            temporary.unlink(missing_ok=True)


def _merged(before: Publication | None, options: PublishOptions, fresh: Publication) -> Publication:
    """``fresh`` (the new audio), with the item's details from ``options``, else from
    ``before``, else the defaults ``fresh`` carries."""
    base = fresh
    if before is not None:
        base = replace(
            fresh,
            published_at=before.published_at,
            season=before.season,
            number=before.number,
            episode_type=before.episode_type,
            explicit=before.explicit,
            created_at=before.created_at,
        )
    changes: dict[str, Any] = {}
    if options.published_at is not None:
        changes["published_at"] = options.published_at
    if options.episode_type is not None:
        changes["episode_type"] = options.episode_type
    for name in ("season", "number", "explicit"):
        if name in options.sent:
            changes[name] = getattr(options, name)
    return replace(base, **changes)

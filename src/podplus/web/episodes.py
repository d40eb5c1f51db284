"""``/api/episodes``: describe an episode, list, change and delete them.

The audio is served by ``podplus.web.episode_audio``; publishing is ``podplus.web.publishing``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from podplus.engine.spec import EpisodeSpec
from podplus.errors import Conflict, InvalidInput, NotFound
from podplus.feeds.html import description_problem
from podplus.feeds.items import MAX_FEED_TITLE_CHARS
from podplus.ids import isoformat, new_id
from podplus.storage.episodes import Episode
from podplus.storage.jobs import Job, JobStatus
from podplus.storage.media import MediaKind
from podplus.storage.objects import episode_key
from podplus.storage.publications import Publication
from podplus.storage.shows import Show
from podplus.web.jobs import job_out
from podplus.web.paging import page_query
from podplus.web.public_urls import audio_url, chapters_url, public_base
from podplus.web.requests import current_user, json_body, json_object, services, validated
from podplus.web.schemas import (
    EpisodeChanges,
    EpisodeCreate,
    EpisodeOut,
    EpisodeStatus,
    Page,
    PublicationOut,
    json_response,
)


def episode_status(episode: Episode, job: Job | None) -> EpisodeStatus:
    """draft → queued → assembling → ready | failed, read off the latest job and the audio."""
    if job is not None and job.status is JobStatus.QUEUED:
        return "queued"
    if job is not None and job.status is JobStatus.RUNNING:
        return "assembling"
    if episode.audio_name:
        return "ready"
    if job is not None and job.status is JobStatus.FAILED:
        return "failed"
    return "draft"


def publication_out(
    publication: Publication, episode: Episode, *, downloads: int, base_url: str, now: float
) -> PublicationOut:
    return PublicationOut(
        guid=episode.guid or "",
        status="published" if publication.is_live(now) else "scheduled",
        published_at=isoformat(publication.published_at),
        audio_url=audio_url(base_url, publication),
        chapters_url=chapters_url(base_url, publication),
        size_bytes=publication.audio_size_bytes,
        media_type=publication.media_type,
        duration_s=publication.duration_s,
        season=publication.season,
        number=publication.number,
        episode_type=publication.episode_type,  # type: ignore[arg-type]
        explicit=publication.explicit,
        audio_outdated=episode.audio_name != publication.source_audio_name,
        downloads=downloads,
        updated_at=isoformat(publication.updated_at),
    )


def episode_out(
    episode: Episode,
    job: Job | None,
    *,
    publication: PublicationOut | None = None,
) -> EpisodeOut:
    status = episode_status(episode, job)
    return EpisodeOut(
        **{name: getattr(episode.spec, name) for name in EpisodeSpec.model_fields},
        id=episode.id,
        title=episode.title,
        description=episode.description,
        status=status,
        job=job_out(job) if job else None,
        audio_url=f"/api/episodes/{episode.id}/audio" if status == "ready" else None,
        duration_s=episode.duration_s,
        integrated_lufs=episode.integrated_lufs,
        true_peak_db=episode.true_peak_db,
        size_bytes=episode.audio_size_bytes,
        created_at=isoformat(episode.created_at),
        updated_at=isoformat(episode.updated_at),
        show_id=episode.show_id,
        guid=episode.guid,
        publication=publication,
        report=episode.report,
    )


async def episodes_out(request: Request, items: list[Episode]) -> list[EpisodeOut]:
    """The API's view of ``items``: each with its latest job and its publication."""
    found = services(request)
    ids = [episode.id for episode in items]
    latest = await found.jobs.latest_for_episodes(ids)
    published = await found.publications.many(ids)
    downloads = await found.downloads.totals(list(published))
    base_url, now = public_base(request), found.clock()
    return [
        episode_out(
            episode,
            latest.get(episode.id),
            publication=(
                None
                if episode.id not in published
                else publication_out(
                    published[episode.id],
                    episode,
                    downloads=downloads[episode.id],
                    base_url=base_url,
                    now=now,
                )
            ),
        )
        for episode in items
    ]


async def create_episode(request: Request) -> Response:
    """Describe an episode. With a `show_id`, the show's defaults (its preset) fill what
    the description leaves out: intro, outro and music bed whole; loudness, output and
    tags field by field."""
    user = await current_user(request)
    episode = await describe_episode(request, await json_object(request), owner_id=user.id)
    await services(request).episodes.add(episode, media_ids=episode.spec.media_ids())
    return json_response(episode_out(episode, None), status_code=201)


async def describe_episode(
    request: Request,
    data: dict[str, Any],
    *,
    owner_id: str,
    fresh: Mapping[str, MediaKind] | None = None,
) -> Episode:
    """The new episode ``data`` (an episode's JSON object, not yet validated) describes,
    checked and not yet stored. With a ``show_id``, the show's defaults fill what ``data``
    leaves out. ``fresh`` are media being stored with the episode (id → kind), taken as
    the owner's (``POST /api/productions``)."""
    show = None
    if isinstance(data.get("show_id"), str):
        show = await owned_show(request, data["show_id"], owner_id)
        data = show.defaults.fill(data)
    described = validated(EpisodeCreate, data)
    spec = described.spec
    await check_media_refs(request, spec.media_refs(), owner_id, fresh=fresh)
    now = time.time()
    return Episode(
        id=new_id(),
        owner_id=owner_id,
        title=described.title,
        description=described.description,
        spec=spec,
        audio_name=None,
        audio_size_bytes=None,
        duration_s=None,
        integrated_lufs=None,
        true_peak_db=None,
        created_at=now,
        updated_at=now,
        show_id=None if show is None else show.id,
    )


async def list_episodes(request: Request) -> Response:
    user = await current_user(request)
    found = services(request)
    query = page_query(request, list_name="episodes", owner_id=user.id)
    page = await found.episodes.owned_by(owner_id=user.id, limit=query.limit, after=query.after)
    return json_response(
        Page[EpisodeOut](
            items=await episodes_out(request, page.items), next=query.cursor(page.next)
        )
    )


async def get_episode(request: Request) -> Response:
    user = await current_user(request)
    episode = await _owned(request, user.id)
    return json_response((await episodes_out(request, [episode]))[0])


async def update_episode(request: Request) -> Response:
    """Change some fields; the ones sent replace the stored ones whole (objects too).

    A published episode keeps its public audio until it is published again, and stays in
    its show (unpublish it first to move it)."""
    user = await current_user(request)
    episode = await _owned(request, user.id)
    changes = (await json_body(request, EpisodeChanges)).model_dump(exclude_unset=True)
    found = services(request)
    if await found.jobs.active_for_episode(episode.id):
        raise Conflict("The episode is being assembled; cancel the job to change it.")
    current = {
        "title": episode.title,
        "description": episode.description,
        "show_id": episode.show_id,
        **episode.spec.model_dump(),
    }
    described = validated(EpisodeCreate, {**current, **changes})
    spec = described.spec
    await _check_media(request, spec, user.id)
    if described.show_id is not None and described.show_id != episode.show_id:
        await owned_show(request, described.show_id, user.id)
    if await found.publications.get(episode.id) is not None:
        if described.show_id != episode.show_id:
            raise Conflict("The episode is published in its show; unpublish it to move it.")
        check_feed_text(described.title, described.description)
    await found.episodes.update(
        episode.id,
        title=described.title,
        description=described.description,
        spec=spec,
        media_ids=spec.media_ids(),
        show_id=described.show_id,
    )
    if episode.audio_name:
        # The row forgot the old audio in the update; now the file goes too.
        await found.objects.delete(episode_key(episode.audio_name))
    updated = await found.episodes.get(episode.id)
    assert updated is not None
    return json_response((await episodes_out(request, [updated]))[0])


async def delete_episode(request: Request) -> Response:
    """Delete the episode, its audio, and (if it was published) its public audio."""
    user = await current_user(request)
    episode = await _owned(request, user.id)
    found = services(request)
    if await found.jobs.active_for_episode(episode.id):
        raise Conflict("The episode is being assembled; cancel the job first.")
    await found.publisher.delete_episode(episode.id)
    return Response(status_code=204)


async def owned_show(request: Request, show_id: str, owner_id: str) -> Show:
    show = await services(request).shows.get(show_id, owner_id=owner_id)
    if show is None:
        raise InvalidInput(f"show_id: no show with id {show_id!r}.", field="show_id")
    return show


def check_feed_text(title: str, description: str) -> None:
    """Refuse a title or show notes a feed can't carry (Apple Podcasts' limits)."""
    if len(title) > MAX_FEED_TITLE_CHARS:
        raise InvalidInput(
            f"title: a feed's titles hold at most {MAX_FEED_TITLE_CHARS} characters.",
            field="title",
        )
    problem = description_problem(description)
    if problem is not None:
        raise InvalidInput(f"description: {problem}.", field="description")


async def _owned(request: Request, owner_id: str) -> Episode:
    episode = await services(request).episodes.get(
        request.path_params["episode_id"], owner_id=owner_id
    )
    if episode is None:
        raise NotFound("No such episode.")
    return episode


async def latest_job(request: Request, episode: Episode) -> Job | None:
    return (await services(request).jobs.latest_for_episodes([episode.id])).get(episode.id)


async def _check_media(request: Request, spec: EpisodeSpec, owner_id: str) -> None:
    await check_media_refs(request, spec.media_refs(), owner_id)


async def check_media_refs(
    request: Request,
    refs: list[tuple[str, str]],
    owner_id: str,
    *,
    fresh: Mapping[str, MediaKind] | None = None,
) -> None:
    """Each (field, media id) names one of the owner's files (or one of ``fresh``) of the
    right kind: an image for a ``cover_id``, audio for everything else; a 422 naming the
    field if not."""
    kinds = dict(fresh or {})
    owned = await services(request).media.many(
        {media_id for _, media_id in refs} - set(kinds), owner_id=owner_id
    )
    kinds.update((media_id, item.kind) for media_id, item in owned.items())
    for field, media_id in refs:
        kind = kinds.get(media_id)
        if kind is None:
            raise InvalidInput(f"{field}: no media with id {media_id!r}.")
        wants_image = field.endswith("cover_id")
        if wants_image and kind.is_audio:
            raise InvalidInput(f"{field}: must be an image uploaded with kind=cover.")
        if not wants_image and not kind.is_audio:
            raise InvalidInput(f"{field}: must be audio, not a cover image.")

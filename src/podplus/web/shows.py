"""``/api/shows``: a creator's podcasts, their artwork, and their download counts.

A show is what its feed says about the podcast (title, description, category, owner…),
its artwork, and its defaults: the preset a new episode of the show starts from. Its feed
is public at ``/feeds/<feed_id>.xml`` and, with a slug, at ``/feeds/<slug>.xml``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from podplus.errors import ArtworkNotJpegOrPng, ArtworkRefused, NotFound
from podplus.feeds.artwork import ARTWORK_FORMATS, ArtworkRule, ImageFacts, artwork_problem
from podplus.ids import isoformat, new_id
from podplus.probing import ProbeFailed
from podplus.storage.downloads import utc_day
from podplus.storage.public_files import MAX_ARTWORK_BYTES
from podplus.storage.shows import Show
from podplus.web.episodes import check_media_refs
from podplus.web.paging import page_query
from podplus.web.public_urls import (
    artwork_url,
    feed_url,
    first_feed_guid,
    public_base,
    require_public_base,
)
from podplus.web.requests import current_user, json_body, services, validated
from podplus.web.schemas import (
    ArtworkUpload,
    DayDownloads,
    EpisodeDownloads,
    Page,
    ShowChanges,
    ShowInput,
    ShowOut,
    ShowStats,
    StatsQuery,
    json_response,
)
from podplus.web.uploads import receive_upload, while_connected

ARTWORK_FIELDS = frozenset(ArtworkUpload.model_fields)


def directory_problems(show: Show, *, published_episodes: int) -> list[str]:
    """What Apple Podcasts or Spotify would refuse the show's feed for today."""
    problems = []
    if not show.artwork_name:
        problems.append("artwork: upload the show's artwork (JPEG or PNG, 1400–3000 px square).")
    if published_episodes == 0:
        problems.append("episodes: publish at least one episode; directories list no empty feed.")
    return problems


def show_out(show: Show, *, base_url: str, published_episodes: int) -> ShowOut:
    return ShowOut(
        id=show.id,
        feed_id=show.feed_id,
        slug=show.slug,
        feed_url=feed_url(base_url, show),
        podcast_guid=show.podcast_guid,
        title=show.title,
        description=show.description,
        author=show.author,
        owner_name=show.owner_name,
        owner_email=show.owner_email,
        language=show.language,
        category=show.category,
        subcategory=show.subcategory,
        explicit=show.explicit,
        type=show.show_type,  # type: ignore[arg-type]
        link=show.link,
        copyright=show.copyright,
        locked=show.locked,
        defaults=show.defaults,
        artwork_url=artwork_url(base_url, show),
        artwork_size_px=show.artwork_size_px,
        published_episodes=published_episodes,
        directory_problems=directory_problems(show, published_episodes=published_episodes),
        created_at=isoformat(show.created_at),
        updated_at=isoformat(show.updated_at),
    )


async def shows_out(request: Request, items: list[Show]) -> list[ShowOut]:
    found = services(request)
    live = await found.publications.live_counts([show.id for show in items], now=found.clock())
    base_url = public_base(request)
    return [
        show_out(show, base_url=base_url, published_episodes=live.get(show.id, 0)) for show in items
    ]


def _fields(described: ShowInput) -> dict[str, Any]:
    """The stored fields of a show, from its description (``type`` is ``show_type``)."""
    values = {name: getattr(described, name) for name in ShowInput.model_fields}
    values["show_type"] = values.pop("type")
    return values


async def create_show(request: Request) -> Response:
    """Create a show. Its feed id is unguessable; its `podcast_guid` is derived from the
    feed's first URL (the Podcasting 2.0 rule) and never changes after. Refused (409)
    while the server has no public address for feeds (`PODPLUS_PUBLIC_URL`)."""
    user = await current_user(request)
    found = services(request)
    base_url = require_public_base(found.settings)
    described = await json_body(request, ShowInput)
    await check_media_refs(request, described.defaults.media_refs(), user.id)
    feed_id = new_id()
    now = found.clock()
    # At the development default's address a slug is no one's own: the unguessable id is.
    first_key = (described.slug or feed_id) if found.settings.public_url else feed_id
    show = Show(
        id=new_id(),
        owner_id=user.id,
        feed_id=feed_id,
        podcast_guid=first_feed_guid(base_url, first_key),
        artwork_name=None,
        artwork_size_px=None,
        created_at=now,
        updated_at=now,
        feed_changed_at=now,
        **_fields(described),
    )
    await found.shows.add_within(show, max_shows=found.settings.max_shows_per_user)
    return json_response((await shows_out(request, [show]))[0], status_code=201)


async def list_shows(request: Request) -> Response:
    user = await current_user(request)
    query = page_query(request, list_name="shows", owner_id=user.id)
    page = await services(request).shows.owned_by(
        owner_id=user.id, limit=query.limit, after=query.after
    )
    return json_response(
        Page[ShowOut](items=await shows_out(request, page.items), next=query.cursor(page.next))
    )


async def get_show(request: Request) -> Response:
    user = await current_user(request)
    show = await _owned(request, user.id)
    return json_response((await shows_out(request, [show]))[0])


async def update_show(request: Request) -> Response:
    """Change some fields; those sent replace the stored ones whole (`defaults` too)."""
    user = await current_user(request)
    show = await _owned(request, user.id)
    changes = (await json_body(request, ShowChanges)).model_dump(exclude_unset=True)
    current = _fields_of(show)
    described = validated(ShowInput, {**current, **changes})
    await check_media_refs(request, described.defaults.media_refs(), user.id)
    stored = _fields(described)
    changed = {name: value for name, value in stored.items() if value != getattr(show, name)}
    updated = await services(request).shows.update(show, **changed) if changed else show
    return json_response((await shows_out(request, [updated]))[0])


async def delete_show(request: Request) -> Response:
    """Delete the show and its feed: its episodes stay yours, unpublished and in no show;
    their public audio, the artwork and the download counts go."""
    user = await current_user(request)
    show = await _owned(request, user.id)
    await services(request).publisher.delete_show(show)
    return Response(status_code=204)


async def upload_artwork(request: Request) -> Response:
    """Replace the show's artwork. It must be what the directories take: JPEG or PNG,
    square, 1400 to 3000 px on a side, RGB; anything else is refused, naming the rule.
    The image is judged on its headers, read by ffprobe in a process of its own."""
    user = await current_user(request)
    show = await _owned(request, user.id)
    found = services(request)
    async with found.analyzer.slot(user.id):
        upload = await receive_upload(
            request,
            destination=found.files.incoming_path(),
            max_bytes=min(MAX_ARTWORK_BYTES, found.settings.max_upload_bytes),
            fields=ARTWORK_FIELDS,
        )
        try:
            try:
                facts = await while_connected(request, found.analyzer.probe_image(upload.path))
            except ProbeFailed as exc:
                raise ArtworkNotJpegOrPng(
                    f"file: artwork must be a JPEG or PNG image ({exc})."
                ) from exc
            suffix = _judge(facts)
            name = await found.public_files.place_artwork(
                upload.path, stem=show.feed_id, suffix=suffix
            )
        finally:
            found.files.remove(upload.path)
    if not await found.shows.set_artwork(show.id, name=name, size_px=facts.width or 0):
        await found.public_files.remove_artwork(name)
        raise NotFound("No such show.")
    if show.artwork_name and show.artwork_name != name:
        await found.public_files.remove_artwork(show.artwork_name)
    updated = await found.shows.get(show.id)
    assert updated is not None
    return json_response((await shows_out(request, [updated]))[0])


async def show_stats(request: Request) -> Response:
    """Downloads per episode and day (UTC) over the last `days` days, today included."""
    user = await current_user(request)
    show = await _owned(request, user.id)
    found = services(request)
    days = validated(StatsQuery, dict(request.query_params)).days
    now = found.clock()
    until = utc_day(now)
    since = (dt.date.fromisoformat(until) - dt.timedelta(days=days - 1)).isoformat()
    counts = await found.downloads.by_day(show.id, since_day=since)
    titles = await found.publications.episode_titles(
        show.id, extra_ids=sorted({count.episode_id for count in counts})
    )
    totals = await found.downloads.totals(list(titles))
    per_episode: dict[str, list[DayDownloads]] = {episode_id: [] for episode_id in titles}
    for count in counts:
        per_episode.setdefault(count.episode_id, []).append(
            DayDownloads(day=count.day, downloads=count.downloads)
        )
    return json_response(
        ShowStats(
            show_id=show.id,
            since=since,
            until=until,
            total=sum(count.downloads for count in counts),
            episodes=[
                EpisodeDownloads(
                    episode_id=episode_id,
                    title=titles.get(episode_id, ""),
                    total=totals.get(episode_id, 0),
                    days=per_episode[episode_id],
                )
                for episode_id in per_episode
            ],
        )
    )


def _judge(facts: ImageFacts) -> str:
    """The artwork's file extension, or the refusal naming the rule it breaks."""
    problem = artwork_problem(facts)
    if problem is not None:
        rule, message = problem
        if rule is ArtworkRule.FORMAT:
            raise ArtworkNotJpegOrPng(f"file: {message}.")
        raise ArtworkRefused(message, rule=rule.value)
    return ARTWORK_FORMATS[facts.codec or ""][0]


def _fields_of(show: Show) -> dict[str, Any]:
    """The show as a description (what ``ShowInput`` reads)."""
    values = {name: getattr(show, name) for name in ShowInput.model_fields if name != "type"}
    values["type"] = show.show_type
    values["defaults"] = show.defaults.model_dump()
    return values


async def _owned(request: Request, owner_id: str) -> Show:
    show = await services(request).shows.get(request.path_params["show_id"], owner_id=owner_id)
    if show is None:
        raise NotFound("No such show.")
    return show

"""``/api/episodes/{id}/publish`` and ``/unpublish``: an episode into its show's feed, and out.

What publishing does to files and rows is ``podplus.storage.publishing``; here are the
checks a request answers for: the server has a public address for feeds, the episode is
ready (assembled, nothing queued), it belongs to a show, its title and notes fit a feed,
and a serial show's episode has a number.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from podplus.errors import InvalidInput, NotFound, PublishRefused
from podplus.storage.episodes import Episode
from podplus.storage.publishing import PublishBlock, PublishOptions
from podplus.storage.webhooks import WebhookEvent
from podplus.web.episodes import check_feed_text, episode_status, episodes_out, latest_job
from podplus.web.public_urls import require_public_base
from podplus.web.requests import current_user, json_object, services, validated
from podplus.web.schemas import PublishRequest, epoch_seconds, json_response


async def publish_episode(request: Request) -> Response:
    """Publish the episode in its show's feed, or publish it again.

    Only a `ready` episode: its current audio is frozen under a public URL that never
    serves other bytes, so assembling it again changes nothing in the feed until it is
    published again (the new audio then replaces the old under a new URL; the episode
    keeps its GUID). A future `published_at` schedules it: it appears in the feed, and
    its audio on its URL, from then on. Publishing again keeps the earlier time, season,
    number, type and explicit flag unless sent."""
    user = await current_user(request)
    episode = await _owned(request, user.id)
    body = await _optional_body(request)
    wanted = validated(PublishRequest, body)
    found = services(request)
    require_public_base(found.settings)
    if episode_status(episode, await latest_job(request, episode)) != "ready":
        raise PublishRefused(
            "Only a ready episode can be published: assemble it, and wait until it is done.",
            reason=PublishBlock.NOT_READY.value,
        )
    show = None
    if episode.show_id is not None:
        show = await found.shows.get(episode.show_id, owner_id=user.id)
    check_feed_text(episode.title, episode.description)
    options = PublishOptions(
        published_at=None if wanted.published_at is None else epoch_seconds(wanted.published_at),
        season=wanted.season,
        number=wanted.number,
        episode_type=wanted.episode_type,
        explicit=wanted.explicit,
        sent=frozenset(name for name in ("season", "number", "explicit") if name in body),
    )
    if show is not None and show.show_type == "serial":
        before = await found.publications.get(episode.id)
        number = wanted.number if "number" in body else (before.number if before else None)
        if number is None:
            raise InvalidInput(
                "number: episodes of a serial show need a number (apps play them in order).",
                field="number",
            )
    await found.publisher.publish(episode, show, options)
    answer = await _answer(request, episode.id)
    # The webhook event carries this very answer; the workers send it.
    await found.deliveries.record(
        owner_id=user.id,
        event_type=WebhookEvent.EPISODE_PUBLISHED,
        data_json=bytes(answer.body).decode(),
    )
    return answer


async def unpublish_episode(request: Request) -> Response:
    """Take the episode out of its show's feed; its public audio URL stops working. It
    keeps its GUID: published again, apps see the same episode. Unpublishing an episode
    that isn't published changes nothing."""
    user = await current_user(request)
    episode = await _owned(request, user.id)
    await services(request).publisher.unpublish(episode.id)
    return await _answer(request, episode.id)


async def _optional_body(request: Request) -> dict[str, object]:
    """The JSON object sent, or {} for a request with no body at all."""
    if request.headers.get("content-length", "0") == "0" and not request.headers.get(
        "transfer-encoding"
    ):
        return {}
    return await json_object(request)


async def _answer(request: Request, episode_id: str) -> Response:
    episode = await services(request).episodes.get(episode_id)
    if episode is None:
        raise NotFound("No such episode.")
    return json_response((await episodes_out(request, [episode]))[0])


async def _owned(request: Request, owner_id: str) -> Episode:
    episode = await services(request).episodes.get(
        request.path_params["episode_id"], owner_id=owner_id
    )
    if episode is None:
        raise NotFound("No such episode.")
    return episode

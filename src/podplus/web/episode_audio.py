"""An episode's assembled audio: with a bearer token, or through a short-lived signed URL.

``<audio>`` elements and download links can't send an Authorization header, and a token in
their URL would end up in browser history and in every copied link, good for everything
its owner can do. So the studio asks ``/api/episodes/{id}/audio-url`` (with its token) for
a URL signed for that one file, valid for minutes (``Settings.audio_link_ttl_s``), and
hands that to the player. Both routes serve the file the same way (``web.audio``).
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from podplus.errors import LinkInvalid, NotFound
from podplus.ids import isoformat
from podplus.security.signing import SIGNATURE_CHARS, AudioLinks
from podplus.services import Services
from podplus.storage.episodes import Episode
from podplus.storage.objects import episode_key
from podplus.web.audio import object_response
from podplus.web.requests import current_user, services
from podplus.web.schemas import AudioLink, json_response

SIGNED_AUDIO_PATH = "/media/episodes/{episode_id}"
_EXPIRES = re.compile(r"[0-9]{1,12}")


async def episode_audio(request: Request) -> Response:
    """The assembled file, with ETag and byte ranges so players can seek."""
    user = await current_user(request)
    found = services(request)
    episode = await found.episodes.get(request.path_params["episode_id"], owner_id=user.id)
    if episode is None:
        raise NotFound("No such episode.")
    return await _serve(request, found, episode)


async def episode_audio_url(request: Request) -> Response:
    """A URL for the episode's audio that needs no token, for players and download links.

    It fetches this assembly's file only (a new assembly needs a new URL), with byte
    ranges, until `expires_at`; then ask again."""
    user = await current_user(request)
    found = services(request)
    episode = await found.episodes.get(request.path_params["episode_id"], owner_id=user.id)
    if episode is None:
        raise NotFound("No such episode.")
    if not episode.audio_name:
        raise NotFound("The episode has no audio yet.")
    link = _links(request).issue(episode_id=episode.id, audio_name=episode.audio_name)
    query = urlencode({"expires": link.expires_at, "sig": link.signature})
    url = f"{SIGNED_AUDIO_PATH.format(episode_id=episode.id)}?{query}"
    return json_response(AudioLink(url=url, expires_at=isoformat(link.expires_at)))


async def signed_episode_audio(request: Request) -> Response:
    """The episode's audio through a URL from `GET /api/episodes/{episode_id}/audio-url`.

    No token: the signature in the query is the permission, for one file until it expires."""
    raw_expires = request.query_params.get("expires", "")
    signature = request.query_params.get("sig", "")
    if not _EXPIRES.fullmatch(raw_expires) or len(signature) != SIGNATURE_CHARS:
        raise LinkInvalid()
    found = services(request)
    # Nobody is logged in here: an episode that is gone, or has other audio now, is simply
    # not what the link was signed for (and says nothing about which ids exist).
    episode = await found.episodes.get(request.path_params["episode_id"])
    if episode is None or not episode.audio_name:
        raise LinkInvalid()
    _links(request).check(
        episode_id=episode.id,
        audio_name=episode.audio_name,
        expires_at=int(raw_expires),
        signature=signature,
    )
    return await _serve(request, found, episode)


async def _serve(request: Request, found: Services, episode: Episode) -> Response:
    if not episode.audio_name:
        raise NotFound("The episode has no audio yet.")
    filename = f"{_safe_filename(episode.title)}{PurePosixPath(episode.audio_name).suffix}"
    try:
        response = await object_response(
            found.objects,
            episode_key(episode.audio_name),
            filename=filename,
            range_header=request.headers.get("range"),
            head_only=request.method == "HEAD",
        )
    except NotFound:
        raise NotFound("The episode has no audio yet.") from None
    # One person's file: a browser may keep it, a shared cache may not.
    response.headers["Cache-Control"] = "private"
    return response


def _links(request: Request) -> AudioLinks:
    return request.app.state.audio_links  # type: ignore[no-any-return]


def _safe_filename(title: str) -> str:
    cleaned = "".join(c if c.isalnum() or c in " -_" else "_" for c in title).strip()
    return cleaned[:100] or "episode"

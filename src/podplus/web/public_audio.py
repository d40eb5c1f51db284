"""Published audio and show artwork, as podcast apps fetch them: no token, any byte range.

Each file is immutable under its name (``<guid>-<sha>.mp3``: ``storage.public_files``), so
the answers carry a long ``Cache-Control`` with ``immutable`` and an ``ETag`` made of the
content's hash (``web.caching_headers``). Ranges are served as ``web.audio`` serves the
studio's player: one range is a 206 with its exact ``Content-Length``, a range past the
end a JSON 416; the file is opened before the answer starts, so one removed meanwhile is
a 404 (or still sent whole), never a 500.

An audio ``GET`` is counted as a download (``storage.downloads``) before it is answered:
one upsert, and a failure to count never fails the answer.
"""

from __future__ import annotations

import logging
import re

from starlette.requests import Request
from starlette.responses import Response

from podplus.errors import NotFound
from podplus.feeds.artwork import ARTWORK_FORMATS
from podplus.security.listeners import counts_as_download
from podplus.storage.objects import public_artwork_key, public_audio_key
from podplus.web.audio import object_response
from podplus.web.caching_headers import CORS, IMMUTABLE, etag_matches
from podplus.web.requests import client_address, services

logger = logging.getLogger(__name__)

_AUDIO_NAME = re.compile(r"[0-9a-f]{32}-(?P<digest>[0-9a-f]{24})\.(?:mp3|m4a)")
_ARTWORK_NAME = re.compile(r"[0-9a-f]{32}-(?P<digest>[0-9a-f]{24})\.(?:jpg|png)")
_ARTWORK_TYPES = dict(ARTWORK_FORMATS.values())


async def public_audio(request: Request) -> Response:
    """A published episode's audio, as its feed's enclosure names it: exact
    `Content-Length`, `Accept-Ranges`, 206 for a range, 416 for one past the end."""
    name = request.path_params["file_name"]
    match = _AUDIO_NAME.fullmatch(name)
    found = services(request)
    publication = None if match is None else await found.publications.by_audio_name([name])
    now = found.clock()
    if match is None or publication is None or not publication.is_live(now):
        raise NotFound("No such episode audio.")
    etag = f'"{match["digest"]}"'
    headers = {"ETag": etag, "Cache-Control": IMMUTABLE, **CORS}
    if etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    range_header = request.headers.get("range")
    try:
        response = await object_response(
            found.objects,
            public_audio_key(name),
            filename=name,
            range_header=range_header,
            head_only=request.method == "HEAD",
        )
    except NotFound:
        raise NotFound("No such episode audio.") from None
    response.headers.update({**headers, "Content-Type": publication.media_type})
    user_agent = request.headers.get("user-agent", "")
    if counts_as_download(method=request.method, range_header=range_header, user_agent=user_agent):
        try:
            await found.downloads.record(
                episode_id=publication.episode_id,
                show_id=publication.show_id,
                listener=found.listeners.key(
                    address=client_address(request), user_agent=user_agent
                ),
                now=now,
            )
        except Exception:
            # A listener gets the audio whatever happens to the count.
            logger.exception("event=downloads.count_failed episode_id=%s", publication.episode_id)
    return response


async def public_artwork(request: Request) -> Response:
    """A show's artwork, as its feed's `itunes:image` names it."""
    name = request.path_params["file_name"]
    match = _ARTWORK_NAME.fullmatch(name)
    found = services(request)
    show = None if match is None else await found.shows.by_artwork_name(name)
    if match is None or show is None:
        raise NotFound("No such artwork.")
    etag = f'"{match["digest"]}"'
    headers = {"ETag": etag, "Cache-Control": IMMUTABLE, **CORS}
    if etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    try:
        response = await object_response(
            found.objects,
            public_artwork_key(name),
            filename=name,
            range_header=request.headers.get("range"),
            head_only=request.method == "HEAD",
        )
    except NotFound:
        raise NotFound("No such artwork.") from None
    response.headers.update({**headers, "Content-Type": _ARTWORK_TYPES["." + name.rsplit(".")[-1]]})
    return response

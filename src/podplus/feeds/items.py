"""What a feed item may be: its enclosure's types, its ``itunes:episodeType``, the length
of a title. Apple's rules ("A Podcaster's Guide to RSS"); the API's limits and the
publisher's checks are derived from these."""

from __future__ import annotations

from typing import Literal, get_args

# What a feed's enclosure may be: Apple Podcasts takes mp3 and m4a audio (and video,
# PDF), with these MIME types (<enclosure>).
ENCLOSURE_TYPES = {".mp3": "audio/mpeg", ".m4a": "audio/x-m4a"}
# itunes:episodeType's values.
EpisodeType = Literal["full", "trailer", "bonus"]
EPISODE_TYPES: tuple[str, ...] = get_args(EpisodeType)
# "Tag values are limited to 255 characters unless otherwise specified".
MAX_FEED_TITLE_CHARS = 255

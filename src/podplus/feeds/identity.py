"""The identities apps know a show and its episodes by, which must never change.

- ``podcast:guid``: a UUIDv5 of the feed's URL, without its scheme and trailing slashes,
  in the Podcasting 2.0 namespace ``ead4c236-bf58-58c6-a2c6-a6b28d128cb6``
  (https://github.com/Podcastindex-org/podcast-namespace/blob/main/docs/tags/guid.md).
  It is computed once, when the show is made, and follows the show from then on.
- An episode's ``<guid isPermaLink="false">``: a random UUID given at its first publication
  and kept for ever (unpublishing, republishing and re-assembling keep it), so apps never
  take a new version of an episode for a new episode.
"""

from __future__ import annotations

import re
import uuid

PODCAST_NAMESPACE = uuid.UUID("ead4c236-bf58-58c6-a2c6-a6b28d128cb6")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def podcast_guid(feed_url: str) -> str:
    """The show's ``podcast:guid`` for a feed at ``feed_url``.

    >>> podcast_guid("https://podnews.net/rss/")
    '9b024349-ccf0-5f69-a609-6b82873eab3c'
    """
    seed = _SCHEME.sub("", feed_url).rstrip("/")
    return str(uuid.uuid5(PODCAST_NAMESPACE, seed))


def new_episode_guid() -> str:
    return str(uuid.uuid4())

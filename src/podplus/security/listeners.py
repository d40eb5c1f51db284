"""Who is listening, as far as counting downloads needs to know, and who is not a listener.

A listener is their address and their app's user agent, as podcast hosts count them (IAB
Podcast Measurement Technical Guidelines v2.2). It is kept only as a keyed hash: HMAC of
the address (an IPv6 one by its /64, as the login throttle does) and the user agent, under
a key derived from the server's secret key, so a stored value can't be turned back into
an address by hashing every IPv4 address.

Not counted: requests from known bots (below), requests with no user agent, ``HEAD``s, and
the two-byte probe (``Range: bytes=0-1``) Apple's players send before the real requests.
"""

from __future__ import annotations

import re

from podplus.security.signing import Signer
from podplus.security.throttle import address_bucket

# A small list of what podcast analytics treat as bots. Source: the Open Podcast Analytics
# Working Group's user-agents-v2 (https://github.com/opawg/user-agents-v2, src/bots.json),
# reduced to its generic words and the crawlers seen most on podcast audio, and OP3's rule
# that an unknown agent with "bot", "crawler" or "spider" in it is a bot.
_BOTS = re.compile(
    r"bot\b|bot/|crawl|spider|slurp|facebookexternalhit|headlesschrome|lighthouse|"
    r"pingdom|uptimerobot|statuscake|site24x7|ahrefs|semrush|mj12|petalbot|"
    r"podcast ?index|podnews|podtrac-?probe|yandex|baidu|bingpreview|python-requests|"
    r"go-http-client|wget/|libwww|httpclient|java/",
    re.IGNORECASE,
)
# AVPlayer (Apple Podcasts, Safari) asks for these two bytes first, then the real ranges.
_PROBE_RANGE = re.compile(r"^\s*bytes\s*=\s*0\s*-\s*1\s*$", re.IGNORECASE)


def is_bot(user_agent: str) -> bool:
    """>>> is_bot("Googlebot/2.1 (+http://www.google.com/bot.html)"), is_bot("gPodder/3.11.4")
    (True, False)
    """
    return not user_agent.strip() or _BOTS.search(user_agent) is not None


def counts_as_download(*, method: str, range_header: str | None, user_agent: str) -> bool:
    """Whether a request for public audio may be a download (the 24 h window decides)."""
    if method != "GET" or is_bot(user_agent):
        return False
    return not (range_header and _PROBE_RANGE.match(range_header))


class ListenerKeys:
    """Turns (address, user agent) into the keyed hash that is stored."""

    def __init__(self, *, secret_key: str) -> None:
        self._signer = Signer(secret_key=secret_key, purpose="download listener")

    def key(self, *, address: str, user_agent: str) -> str:
        return self._signer.sign(address_bucket(address), user_agent[:512])

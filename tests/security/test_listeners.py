"""Who counts as a listener: the requests that may be a download, and what is kept of them."""

from __future__ import annotations

import pytest

from podplus.security.listeners import ListenerKeys, counts_as_download, is_bot

APPS = [
    "AppleCoreMedia/1.0.0.20G75 (iPhone; U; CPU OS 16_6 like Mac OS X; en_us)",
    "Podcasts/1650.20 CFNetwork/1408.0.4 Darwin/22.5.0",
    "Spotify/8.8.50 iOS/16.6 (iPhone15,2)",
    "Overcast/3.0 (+http://overcast.fm/; iOS podcast app)",
    "PocketCasts/1.0 (Pocket Casts Feed Parser; +http://pocketcasts.com/)",
    "gPodder/3.11.4 (+https://gpodder.github.io/)",
    "AntennaPod/3.2.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36",
]
BOTS = [
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
    "facebookexternalhit/1.1",
    "Mozilla/5.0 (X11; Linux x86_64) HeadlessChrome/120.0 Safari/537.36",
    "python-requests/2.31.0",
    "Go-http-client/1.1",
    "",
    "   ",
]


@pytest.mark.parametrize("agent", APPS)
def test_podcast_apps_and_browsers_are_listeners(agent: str) -> None:
    assert not is_bot(agent)
    assert counts_as_download(method="GET", range_header="bytes=1000-", user_agent=agent)


@pytest.mark.parametrize("agent", BOTS)
def test_bots_and_agentless_requests_are_not(agent: str) -> None:
    assert is_bot(agent)
    assert not counts_as_download(method="GET", range_header=None, user_agent=agent)


def test_a_head_or_the_two_byte_probe_is_no_download() -> None:
    app = APPS[0]
    assert not counts_as_download(method="HEAD", range_header=None, user_agent=app)
    assert not counts_as_download(method="GET", range_header="bytes=0-1", user_agent=app)
    assert counts_as_download(method="GET", range_header="bytes=0-", user_agent=app)


def test_a_listener_is_kept_as_a_keyed_hash() -> None:
    keys = ListenerKeys(secret_key="k" * 40)
    one = keys.key(address="203.0.113.7", user_agent=APPS[0])
    assert one == keys.key(address="203.0.113.7", user_agent=APPS[0])
    assert "203" not in one and len(one) == 43
    assert one != keys.key(address="203.0.113.8", user_agent=APPS[0])
    assert one != keys.key(address="203.0.113.7", user_agent=APPS[1])
    # Another server's key makes other hashes: they can't be looked up elsewhere.
    assert one != ListenerKeys(secret_key="j" * 40).key(address="203.0.113.7", user_agent=APPS[0])
    # An IPv6 client is one listener across its /64 (privacy addresses rotate within it).
    assert keys.key(address="2001:db8::1", user_agent="a") == keys.key(
        address="2001:db8::ffff", user_agent="a"
    )

"""Signed strings: a link is good for one file until its expiry, and keys don't cross uses."""

from __future__ import annotations

import pytest

from podplus.errors import LinkExpired, LinkInvalid
from podplus.security.signing import AudioLinks, Signer

KEY = "k" * 40


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize("start", [0.0, 1_700_000_000.5])
def test_a_link_is_valid_until_its_expiry_and_not_after(start: float) -> None:
    clock = Clock(start)
    links = AudioLinks(secret_key=KEY, ttl_s=900, clock=clock)
    link = links.issue(episode_id="e1", audio_name="e1-j1.mp3")
    assert link.expires_at == int(start) + 900
    signed = {"expires_at": link.expires_at, "signature": link.signature}

    clock.now = link.expires_at - 0.001
    links.check(episode_id="e1", audio_name="e1-j1.mp3", **signed)
    clock.now = link.expires_at
    with pytest.raises(LinkExpired):
        links.check(episode_id="e1", audio_name="e1-j1.mp3", **signed)


@pytest.mark.parametrize(
    "changed",
    [
        {"episode_id": "e2"},
        {"audio_name": "e1-j2.mp3"},
        {"expires_at": 10_000},
        {"signature": "A" * 43},
        {"signature": ""},
        {"signature": "é"},
    ],
)
def test_a_link_is_for_its_own_file_and_expiry_only(changed: dict[str, object]) -> None:
    links = AudioLinks(secret_key=KEY, ttl_s=900, clock=Clock(1000.0))
    link = links.issue(episode_id="e1", audio_name="e1-j1.mp3")
    signed: dict[str, object] = {
        "episode_id": "e1",
        "audio_name": "e1-j1.mp3",
        "expires_at": link.expires_at,
        "signature": link.signature,
    }
    with pytest.raises(LinkInvalid) as refused:
        links.check(**{**signed, **changed})  # type: ignore[arg-type]
    assert not isinstance(refused.value, LinkExpired)


def test_each_purpose_and_each_secret_signs_differently() -> None:
    cursor = Signer(secret_key=KEY, purpose="list cursor")
    link = Signer(secret_key=KEY, purpose="episode audio link")
    assert cursor.sign("a", "b") != link.sign("a", "b")
    assert not link.verify(cursor.sign("a", "b"), "a", "b")
    assert Signer(secret_key="j" * 40, purpose="list cursor").sign("a") != cursor.sign("a")
    # The parts are framed: moving a boundary changes the signature.
    assert cursor.sign("a:b", "c") != cursor.sign("a", "b:c")
    assert cursor.verify(cursor.sign("a", "b"), "a", "b")

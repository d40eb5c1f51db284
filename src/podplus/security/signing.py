"""Signed strings: list cursors and short-lived audio links.

Each use gets its own key, derived from the secret key and the name of the use, so a
signature made for one can never pass for another (a cursor is not an audio link, and
neither is a bearer token, which is signed with the secret key itself).

    links = AudioLinks(secret_key=key, ttl_s=900)
    link = links.issue(episode_id="e1", audio_name="e1-j1.mp3")
    links.check(episode_id="e1", audio_name="e1-j1.mp3",
                expires_at=link.expires_at, signature=link.signature)   # or raises
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass

from podplus.errors import LinkExpired, LinkInvalid

# A signature is the full HMAC-SHA256, base64url without padding.
SIGNATURE_CHARS = 43


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


class Signer:
    """HMAC-SHA256 under a key derived from ``secret_key`` for ``purpose`` alone."""

    def __init__(self, *, secret_key: str, purpose: str) -> None:
        self._key = hmac.digest(
            secret_key.encode(), f"podplus signing key: {purpose}".encode(), hashlib.sha256
        )

    def sign(self, *parts: str) -> str:
        # JSON, not a separator: ("a:b", "c") and ("a", "b:c") must sign differently.
        message = json.dumps(parts, separators=(",", ":")).encode()
        return _b64(hmac.digest(self._key, message, hashlib.sha256))

    def verify(self, signature: str, *parts: str) -> bool:
        """True if ``signature`` is ours for exactly these parts (compared in constant time)."""
        return hmac.compare_digest(self.sign(*parts).encode(), signature.encode("utf-8", "replace"))


@dataclass(frozen=True)
class SignedLink:
    expires_at: int  # epoch seconds
    signature: str


class AudioLinks:
    """Permission to fetch one file of one episode until a moment, with no token.

    The signature covers the episode, the name of its audio file and the expiry, so a link
    fetches that file only: not another episode's, and not the episode's next assembly.
    Time comes from ``clock`` (epoch seconds), so tests move it instead of waiting.
    """

    def __init__(
        self, *, secret_key: str, ttl_s: int, clock: Callable[[], float] = time.time
    ) -> None:
        self._signer = Signer(secret_key=secret_key, purpose="episode audio link")
        self._ttl_s = ttl_s
        self._clock = clock

    def issue(self, *, episode_id: str, audio_name: str) -> SignedLink:
        expires_at = int(self._clock()) + self._ttl_s
        signature = self._signer.sign(episode_id, audio_name, str(expires_at))
        return SignedLink(expires_at=expires_at, signature=signature)

    def check(self, *, episode_id: str, audio_name: str, expires_at: int, signature: str) -> None:
        """Return if the link is ours and still valid; raise ``LinkInvalid``/``LinkExpired``."""
        if not self._signer.verify(signature, episode_id, audio_name, str(expires_at)):
            raise LinkInvalid()
        if self._clock() >= expires_at:
            raise LinkExpired()

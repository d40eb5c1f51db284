"""Bearer tokens: HS256 JWTs with ``sub``, ``iat`` and ``exp``."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import jwt

from podplus.errors import TokenExpired, TokenInvalid

ALGORITHM = "HS256"
REQUIRED_CLAIMS = ("sub", "iat", "exp")
MAX_VERIFIED_TOKENS = 10_000


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    expires_in_s: int


class TokenCodec:
    """Issues and verifies tokens, telling the time by ``clock`` (epoch seconds).

    A token that verified once is remembered (by its exact bytes) until it expires: a
    client sends the same token with every request, and re-checking its HMAC each time
    was the largest cost left in ``GET /api/users/me``. ``exp`` is still checked on
    every use.
    """

    def __init__(
        self, *, secret_key: str, ttl_s: int, clock: Callable[[], float] = time.time
    ) -> None:
        self._secret_key = secret_key
        self._ttl_s = ttl_s
        self._clock = clock
        self._verified: dict[str, tuple[str, float]] = {}

    def issue(self, user_id: str) -> IssuedToken:
        issued_at = int(self._clock())
        claims = {"sub": user_id, "iat": issued_at, "exp": issued_at + self._ttl_s}
        return IssuedToken(jwt.encode(claims, self._secret_key, algorithm=ALGORITHM), self._ttl_s)

    def subject(self, token: str) -> str:
        """Return the user id a valid token names, or raise ``TokenInvalid``/``TokenExpired``.

        The algorithm is pinned, so a token claiming ``alg: none`` or RS256 is refused
        rather than verified by its own rules.
        """
        now = self._clock()
        remembered = self._verified.get(token)
        if remembered is not None:
            if now < remembered[1]:
                return remembered[0]
            del self._verified[token]
            raise TokenExpired()
        try:
            # PyJWT would compare exp (and iat) with its own clock; we compare with ours.
            claims = jwt.decode(
                token,
                self._secret_key,
                algorithms=[ALGORITHM],
                options={
                    "require": list(REQUIRED_CLAIMS),
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                },
            )
        except jwt.PyJWTError as exc:
            raise TokenInvalid() from exc
        subject, expires_at = claims.get("sub"), claims.get("exp")
        if not isinstance(subject, str) or not subject:
            raise TokenInvalid()
        if not isinstance(expires_at, int | float) or isinstance(expires_at, bool):
            raise TokenInvalid()
        if now >= expires_at:
            raise TokenExpired()
        if len(self._verified) >= MAX_VERIFIED_TOKENS:
            self._verified.clear()
        self._verified[token] = (subject, float(expires_at))
        return subject

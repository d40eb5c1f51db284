"""Bearer tokens: HS256 JWTs with ``sub``, ``iat`` and ``exp``."""

from __future__ import annotations

import time
from dataclasses import dataclass

import jwt

from podplus.errors import Unauthorized

ALGORITHM = "HS256"
REQUIRED_CLAIMS = ("sub", "iat", "exp")


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    expires_in_s: int


MAX_VERIFIED_TOKENS = 10_000


class TokenCodec:
    """Issues and verifies tokens.

    A token that verified once is remembered (by its exact bytes) until it expires: a
    client sends the same token with every request, and re-checking its HMAC each time
    was the largest cost left in ``GET /api/users/me``. ``exp`` is still checked on
    every use.
    """

    def __init__(self, *, secret_key: str, ttl_s: int) -> None:
        self._secret_key = secret_key
        self._ttl_s = ttl_s
        self._verified: dict[str, tuple[str, float]] = {}

    def issue(self, user_id: str, *, now: float | None = None) -> IssuedToken:
        issued_at = int(time.time() if now is None else now)
        claims = {"sub": user_id, "iat": issued_at, "exp": issued_at + self._ttl_s}
        return IssuedToken(jwt.encode(claims, self._secret_key, algorithm=ALGORITHM), self._ttl_s)

    def subject(self, token: str) -> str:
        """Return the user id a valid token names, or raise ``Unauthorized``.

        The algorithm is pinned, so a token claiming ``alg: none`` or RS256 is refused
        rather than verified by its own rules.
        """
        remembered = self._verified.get(token)
        if remembered is not None:
            if time.time() < remembered[1]:
                return remembered[0]
            del self._verified[token]
        try:
            claims = jwt.decode(
                token,
                self._secret_key,
                algorithms=[ALGORITHM],
                options={"require": list(REQUIRED_CLAIMS)},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthorized("The token has expired; log in again.") from exc
        except jwt.PyJWTError as exc:
            raise Unauthorized("The token is not valid.") from exc
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject:
            raise Unauthorized("The token is not valid.")
        if len(self._verified) >= MAX_VERIFIED_TOKENS:
            self._verified.clear()
        self._verified[token] = (subject, float(claims["exp"]))
        return subject

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


class TokenCodec:
    def __init__(self, *, secret_key: str, ttl_s: int) -> None:
        self._secret_key = secret_key
        self._ttl_s = ttl_s

    def issue(self, user_id: str, *, now: float | None = None) -> IssuedToken:
        issued_at = int(time.time() if now is None else now)
        claims = {"sub": user_id, "iat": issued_at, "exp": issued_at + self._ttl_s}
        return IssuedToken(jwt.encode(claims, self._secret_key, algorithm=ALGORITHM), self._ttl_s)

    def subject(self, token: str) -> str:
        """Return the user id a valid token names, or raise ``Unauthorized``.

        The algorithm is pinned, so a token claiming ``alg: none`` or RS256 is refused
        rather than verified by its own rules.
        """
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
        return subject

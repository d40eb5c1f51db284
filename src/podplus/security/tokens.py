"""Bearer tokens: HS256 JWTs with ``sub``, ``jti``, ``iat`` and ``exp``.

``jti`` names one token, so logging out can end it alone; ``iat`` carries fractions of a
second, so "every token issued before now" (logout everywhere, a new password) never
catches the token issued just after.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeGuard

import jwt

from podplus.errors import TokenExpired, TokenInvalid
from podplus.ids import new_id

ALGORITHM = "HS256"
REQUIRED_CLAIMS = ("sub", "jti", "iat", "exp")
MAX_VERIFIED_TOKENS = 10_000


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    expires_in_s: int


@dataclass(frozen=True)
class TokenClaims:
    """What a verified token says."""

    subject: str
    token_id: str
    issued_at: float
    expires_at: float


class TokenCodec:
    """Issues and verifies tokens, telling the time by ``clock`` (epoch seconds).

    A token that verified once is remembered (by its exact bytes) until it expires: a
    client sends the same token with every request, and re-checking its HMAC each time
    was the largest cost left in ``GET /api/users/me``. ``exp`` is still checked on
    every use; whether the token was revoked is ``podplus.security.sessions``'s question.
    """

    def __init__(
        self, *, secret_key: str, ttl_s: int, clock: Callable[[], float] = time.time
    ) -> None:
        self._secret_key = secret_key
        self._ttl_s = ttl_s
        self._clock = clock
        self._verified: dict[str, TokenClaims] = {}

    def now(self) -> float:
        return self._clock()

    def issue(self, user_id: str, *, not_before: float = 0.0) -> IssuedToken:
        """A new token for ``user_id``, issued now (or at ``not_before``, if that is later:
        the token that replaces the ones a password change just ended must outlive it)."""
        issued_at = max(self._clock(), not_before)
        claims = {
            "sub": user_id,
            "jti": new_id(),
            "iat": issued_at,
            "exp": issued_at + self._ttl_s,
        }
        return IssuedToken(jwt.encode(claims, self._secret_key, algorithm=ALGORITHM), self._ttl_s)

    def subject(self, token: str) -> str:
        """The user id a valid token names (see ``verify``)."""
        return self.verify(token).subject

    def verify(self, token: str) -> TokenClaims:
        """Return what a valid token says, or raise ``TokenInvalid``/``TokenExpired``.

        The algorithm is pinned, so a token claiming ``alg: none`` or RS256 is refused
        rather than verified by its own rules.
        """
        now = self._clock()
        remembered = self._verified.get(token)
        if remembered is not None:
            if now < remembered.expires_at:
                return remembered
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
        subject, token_id = claims.get("sub"), claims.get("jti")
        issued_at, expires_at = claims.get("iat"), claims.get("exp")
        if not isinstance(subject, str) or not subject:
            raise TokenInvalid()
        if not isinstance(token_id, str) or not token_id:
            raise TokenInvalid()
        if not _number(issued_at) or not _number(expires_at):
            raise TokenInvalid()
        if now >= expires_at:
            raise TokenExpired()
        verified = TokenClaims(subject, token_id, float(issued_at), float(expires_at))
        if len(self._verified) >= MAX_VERIFIED_TOKENS:
            self._verified.clear()
        self._verified[token] = verified
        return verified


def _number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)

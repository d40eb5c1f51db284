"""Who a bearer token speaks for, and ending tokens before they expire.

A token stops working before its ``exp`` in two ways, both kept in the database so every
process sharing it agrees:

- one token: logout revokes its ``jti`` (``revoked_tokens``, kept until the token would
  have expired anyway);
- every token of an account: logout everywhere and a new password set the account's
  ``tokens_valid_after``, and tokens issued before it are refused.

Checking both costs two dictionary lookups per request: the account row and its revoked
ids are cached for ``cache_ttl_s`` (``PODPLUS_AUTH_CACHE_S``). A revocation made in this
process drops the cached entries at once; one made in another process (a second server,
``podplus user admin``) is seen here within ``cache_ttl_s``.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from podplus.caching import ExpiringCache
from podplus.errors import TokenRevoked, Unauthorized
from podplus.security.tokens import IssuedToken, TokenClaims, TokenCodec
from podplus.storage.users import RevokedTokenStore, User, UserStore

MAX_CACHED_ACCOUNTS = 10_000


class Sessions:
    """Turns bearer tokens into users, and ends tokens: one, or all of an account's."""

    def __init__(
        self,
        *,
        tokens: TokenCodec,
        users: UserStore,
        revoked: RevokedTokenStore,
        cache_ttl_s: float,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._tokens = tokens
        self._users = users
        self._revoked = revoked
        self._revoked_ids: ExpiringCache[str, frozenset[str]] = ExpiringCache(
            ttl_s=cache_ttl_s, max_entries=MAX_CACHED_ACCOUNTS, monotonic=monotonic
        )

    def issue(self, user: User) -> IssuedToken:
        return self._tokens.issue(user.id)

    async def user_for(self, token: str) -> User:
        """The account a token speaks for; ``Unauthorized`` (``TokenInvalid``,
        ``TokenExpired``, ``TokenRevoked``) when it speaks for none."""
        return (await self._check(token))[1]

    async def end(self, token: str) -> None:
        """Log out: ``token`` stops working; the account's other tokens don't."""
        claims, user = await self._check(token)
        await self._revoked.revoke(
            token_id=claims.token_id, user_id=user.id, expires_at=claims.expires_at
        )
        self._revoked_ids.drop(user.id)
        await self._revoked.prune(now=self._tokens.now())

    async def end_all(self, user: User) -> None:
        """Log out everywhere: every token of the account issued until now stops working."""
        await self._users.end_tokens_before(user.id, at=self._tokens.now())

    async def replace_password(self, user: User, password_hash: str) -> IssuedToken:
        """Store a new password, end every earlier token, and return one that works."""
        now = self._tokens.now()
        await self._users.set_password(user.id, password_hash, at=now)
        return self._tokens.issue(user.id, not_before=now)

    async def _check(self, token: str) -> tuple[TokenClaims, User]:
        claims = self._tokens.verify(token)
        user = await self._users.by_id(claims.subject)
        if user is None:
            raise Unauthorized("The token's account no longer exists.")
        if claims.issued_at < user.tokens_valid_after:
            raise TokenRevoked()
        if claims.token_id in await self._revoked_for(user.id):
            raise TokenRevoked()
        return claims, user

    async def _revoked_for(self, user_id: str) -> frozenset[str]:
        return await self._revoked_ids.get(
            user_id, lambda: self._revoked.live_for(user_id, now=self._tokens.now())
        )

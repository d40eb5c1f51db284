"""Who a bearer token speaks for, and ending tokens before they expire.

A token stops working before its ``exp`` in two ways, both kept in the database so every
process sharing it agrees:

- one token: logout revokes its ``jti`` (``revoked_tokens``, kept until the token would
  have expired anyway);
- every token of an account: logout everywhere and a new password set the account's
  ``tokens_valid_after``, and tokens issued before it are refused.

Both are checked against the database on every request, in one query with the account's
row (``UserStore.holder_of``), and nothing about them is cached in the process: several
servers answer behind one address, and a token revoked through one (or by ``podplus user
admin`` from the command line) must be refused by all of them on the very next request.
Only the token's signature check is remembered (``TokenCodec``), which no revocation
changes.
"""

from __future__ import annotations

from podplus.errors import TokenRevoked, Unauthorized
from podplus.security.tokens import IssuedToken, TokenClaims, TokenCodec
from podplus.storage.users import RevokedTokenStore, User, UserStore


class Sessions:
    """Turns bearer tokens into users, and ends tokens: one, or all of an account's."""

    def __init__(self, *, tokens: TokenCodec, users: UserStore, revoked: RevokedTokenStore) -> None:
        self._tokens = tokens
        self._users = users
        self._revoked = revoked

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
        holder = await self._users.holder_of(claims.subject, token_id=claims.token_id)
        if holder is None:
            raise Unauthorized("The token's account no longer exists.")
        if holder.token_revoked or claims.issued_at < holder.user.tokens_valid_after:
            raise TokenRevoked()
        return claims, holder.user

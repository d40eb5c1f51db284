"""Users, and the tokens they ended before their time."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from databases import Database

from podplus.caching import ExpiringCache
from podplus.errors import EmailTaken, NotFound
from podplus.ids import new_id
from podplus.storage.schema import revoked_tokens, users

MAX_CACHED_USERS = 10_000


@dataclass(frozen=True)
class User:
    id: str
    email: str
    name: str
    password_hash: str
    is_admin: bool
    created_at: float
    # Tokens issued (``iat``) before this are refused; 0 when none has been ended this way.
    tokens_valid_after: float = 0.0


def _user(row: object) -> User:
    mapping = row._mapping  # type: ignore[attr-defined]
    return User(
        id=mapping["id"],
        email=mapping["email"],
        name=mapping["name"],
        password_hash=mapping["password_hash"],
        is_admin=bool(mapping["is_admin"]),
        created_at=mapping["created_at"],
        tokens_valid_after=mapping["tokens_valid_after"] or 0.0,
    )


class UserStore:
    """Accounts. Lookups by id are cached for ``cache_ttl_s``: every authenticated request
    makes one, and a cached answer costs a dict lookup instead of a database round trip.

    The TTL is the bound on how stale a row may be: a change made through this store
    (a new password, logout everywhere, admin rights) drops the entry at once; one made by
    another process (a second server, ``podplus user admin``) is seen within ``cache_ttl_s``.
    ``monotonic`` tells the cache's time.
    """

    def __init__(
        self,
        database: Database,
        *,
        cache_ttl_s: float = 5.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._db = database
        self._cache: ExpiringCache[str, User | None] = ExpiringCache(
            ttl_s=cache_ttl_s, max_entries=MAX_CACHED_USERS, monotonic=monotonic
        )

    async def create(
        self, *, email: str, name: str, password_hash: str, is_admin: bool = False
    ) -> User:
        user = User(
            id=new_id(),
            email=email.lower(),
            name=name,
            password_hash=password_hash,
            is_admin=is_admin,
            created_at=time.time(),
        )
        values = {**user.__dict__, "tokens_valid_after": None}
        try:
            await self._db.execute(users.insert().values(**values))
        except Exception as exc:
            # The unique index is the real guard against two sign-ups racing.
            if await self.by_email(email) is not None:
                raise EmailTaken(email.lower()) from exc
            raise
        return user

    async def by_email(self, email: str) -> User | None:
        row = await self._db.fetch_one(users.select().where(users.c.email == email.lower()))
        return None if row is None else _user(row)

    async def by_id(self, user_id: str) -> User | None:
        async def load() -> User | None:
            row = await self._db.fetch_one(users.select().where(users.c.id == user_id))
            return None if row is None else _user(row)

        return await self._cache.get(user_id, load)

    async def set_password_hash(self, user_id: str, password_hash: str) -> None:
        """Replace the hash (same password, stronger parameters): tokens stay valid."""
        self._cache.drop(user_id)
        await self._db.execute(
            users.update().where(users.c.id == user_id).values(password_hash=password_hash)
        )
        # Again after: a request between the first drop and the write reloaded the old row.
        self._cache.drop(user_id)

    async def set_password(self, user_id: str, password_hash: str, *, at: float) -> None:
        """A new password: every token issued before ``at`` stops working."""
        self._cache.drop(user_id)
        await self._db.execute(
            users.update()
            .where(users.c.id == user_id)
            .values(password_hash=password_hash, tokens_valid_after=at)
        )
        # Again after: a request between the first drop and the write reloaded the old row.
        self._cache.drop(user_id)

    async def end_tokens_before(self, user_id: str, *, at: float) -> None:
        """Every token of the account issued before ``at`` stops working."""
        self._cache.drop(user_id)
        await self._db.execute(
            users.update().where(users.c.id == user_id).values(tokens_valid_after=at)
        )
        # Again after: a request between the first drop and the write reloaded the old row.
        self._cache.drop(user_id)

    async def set_admin(self, email: str, *, is_admin: bool) -> User:
        """Grant or revoke admin rights; raise ``NotFound`` when no account has ``email``."""
        user = await self.by_email(email)
        if user is None:
            raise NotFound(f"No account has the email {email.lower()}.")
        self._cache.drop(user.id)
        await self._db.execute(
            users.update().where(users.c.id == user.id).values(is_admin=is_admin)
        )
        self._cache.drop(user.id)
        return User(**{**user.__dict__, "is_admin": is_admin})


class RevokedTokenStore:
    """Tokens ended one at a time (logout), by id (``jti``), until they expire anyway."""

    def __init__(self, database: Database) -> None:
        self._db = database

    async def revoke(self, *, token_id: str, user_id: str, expires_at: float) -> None:
        try:
            await self._db.execute(
                revoked_tokens.insert().values(jti=token_id, user_id=user_id, expires_at=expires_at)
            )
        except Exception:
            # Logging out twice with one token (two tabs): it is revoked either way.
            if not await self._db.fetch_val(
                sa.select(revoked_tokens.c.jti).where(revoked_tokens.c.jti == token_id)
            ):
                raise

    async def live_for(self, user_id: str, *, now: float) -> frozenset[str]:
        """The ids of the account's revoked tokens that haven't expired yet."""
        rows = await self._db.fetch_all(
            sa.select(revoked_tokens.c.jti).where(
                revoked_tokens.c.user_id == user_id, revoked_tokens.c.expires_at > now
            )
        )
        return frozenset(row[0] for row in rows)

    async def prune(self, *, now: float) -> None:
        """Forget revocations of tokens that have expired: they are refused for that."""
        await self._db.execute(revoked_tokens.delete().where(revoked_tokens.c.expires_at <= now))

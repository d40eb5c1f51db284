"""Users and their login failures."""

from __future__ import annotations

import time
from dataclasses import dataclass

import sqlalchemy as sa
from databases import Database

from podplus.errors import EmailTaken
from podplus.ids import new_id
from podplus.storage.schema import login_failures, users

MAX_CACHED_USERS = 10_000


@dataclass(frozen=True)
class User:
    id: str
    email: str
    name: str
    password_hash: str
    is_admin: bool
    created_at: float


def _user(row: object) -> User:
    mapping = row._mapping  # type: ignore[attr-defined]
    return User(
        id=mapping["id"],
        email=mapping["email"],
        name=mapping["name"],
        password_hash=mapping["password_hash"],
        is_admin=bool(mapping["is_admin"]),
        created_at=mapping["created_at"],
    )


class UserStore:
    """Accounts. Lookups by id are cached for ``cache_ttl_s``: every authenticated request
    makes one, and a cached answer costs a dict lookup instead of a database round trip.
    Changes made through this store drop the entry at once; another process's changes are
    seen within the TTL."""

    def __init__(self, database: Database, *, cache_ttl_s: float = 30.0) -> None:
        self._db = database
        self._cache_ttl_s = cache_ttl_s
        self._cache: dict[str, tuple[float, User]] = {}

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
        try:
            await self._db.execute(users.insert().values(**user.__dict__))
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
        now = time.monotonic()
        cached = self._cache.get(user_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        row = await self._db.fetch_one(users.select().where(users.c.id == user_id))
        if row is None:
            return None
        user = _user(row)
        if len(self._cache) >= MAX_CACHED_USERS:
            self._cache.clear()
        self._cache[user_id] = (now + self._cache_ttl_s, user)
        return user

    async def set_password_hash(self, user_id: str, password_hash: str) -> None:
        self._cache.pop(user_id, None)
        await self._db.execute(
            users.update().where(users.c.id == user_id).values(password_hash=password_hash)
        )


class LoginFailureStore:
    """Failed logins, counted per email and per client address over a sliding window."""

    def __init__(self, database: Database) -> None:
        self._db = database

    async def record(self, *, email: str, address: str, at: float) -> None:
        await self._db.execute(
            login_failures.insert().values(email=email.lower(), address=address, failed_at=at)
        )

    async def oldest_recent(
        self, *, email: str, address: str, since: float, limit: int
    ) -> float | None:
        """When failures for ``email`` or from ``address`` since ``since`` number ``limit`` or
        more, return the time of the oldest of the last ``limit``: the lock lifts a window after it.
        """
        latest: float | None = None
        for column, value in (
            (login_failures.c.email, email.lower()),
            (login_failures.c.address, address),
        ):
            query = (
                sa.select(login_failures.c.failed_at)
                .where(column == value, login_failures.c.failed_at > since)
                .order_by(login_failures.c.failed_at.desc())
                .offset(limit - 1)
                .limit(1)
            )
            found = await self._db.fetch_val(query)
            if found is not None and (latest is None or found > latest):
                latest = found
        return latest

    async def clear_email(self, email: str) -> None:
        await self._db.execute(
            login_failures.delete().where(login_failures.c.email == email.lower())
        )

    async def prune(self, *, before: float) -> None:
        await self._db.execute(login_failures.delete().where(login_failures.c.failed_at < before))

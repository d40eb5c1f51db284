"""Users, and the tokens they ended before their time."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from databases import Database

from podplus.errors import EmailTaken, NotFound
from podplus.ids import new_id
from podplus.storage.loop_reads import Busy, LoopReader
from podplus.storage.schema import revoked_tokens, users


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


@dataclass(frozen=True)
class TokenHolder:
    """The account a token names, as stored now, and whether that one token was revoked."""

    user: User
    token_revoked: bool


def _user(row: object) -> User:
    return _user_of(row._mapping)  # type: ignore[attr-defined]


def _user_of(mapping: Mapping[str, Any]) -> User:
    return User(
        id=mapping["id"],
        email=mapping["email"],
        name=mapping["name"],
        password_hash=mapping["password_hash"],
        is_admin=bool(mapping["is_admin"]),
        created_at=mapping["created_at"],
        tokens_valid_after=mapping["tokens_valid_after"] or 0.0,
    )


# Every authenticated request runs this, so it is written once as SQL (compiling a
# ``select`` per request cost more than running it; on SQLite it runs on the loop's thread,
# ``podplus.storage.loop_reads``) and asks one question: the account's row and whether
# this token's id is among the revoked ones.
_HOLDER_SQL = (
    "SELECT users.id, users.email, users.name, users.password_hash, users.is_admin,"
    " users.created_at, users.tokens_valid_after, revoked_tokens.jti AS revoked_jti"
    " FROM users LEFT OUTER JOIN revoked_tokens"
    " ON revoked_tokens.jti = :token_id AND revoked_tokens.user_id = users.id"
    " WHERE users.id = :user_id"
)


class UserStore:
    """Accounts. Nothing here is cached in the process: several servers share the
    database, and a change one makes (a new password, logout everywhere, admin rights
    taken away, the account deleted) must hold in every one on its next request."""

    def __init__(self, database: Database) -> None:
        self._db = database
        self._loop_reader = LoopReader.for_database(database)

    def close(self) -> None:
        if self._loop_reader is not None:
            self._loop_reader.close()

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
        row = await self._db.fetch_one(users.select().where(users.c.id == user_id))
        return None if row is None else _user(row)

    async def holder_of(self, user_id: str, *, token_id: str) -> TokenHolder | None:
        """The account ``user_id`` and whether its token ``token_id`` was revoked, read
        from the database in one query (None: no such account)."""
        values = {"user_id": user_id, "token_id": token_id}
        mapping: Mapping[str, Any] | None
        try:
            if self._loop_reader is None:
                raise Busy("not a SQLite file")
            mapping = self._loop_reader.fetch_one(_HOLDER_SQL, values)
        except Busy:
            row = await self._db.fetch_one(_HOLDER_SQL, values=values)
            mapping = None if row is None else row._mapping
        if mapping is None:
            return None
        return TokenHolder(user=_user_of(mapping), token_revoked=mapping["revoked_jti"] is not None)

    async def set_password_hash(self, user_id: str, password_hash: str) -> None:
        """Replace the hash (same password, stronger parameters): tokens stay valid."""
        await self._db.execute(
            users.update().where(users.c.id == user_id).values(password_hash=password_hash)
        )

    async def set_password(self, user_id: str, password_hash: str, *, at: float) -> None:
        """A new password: every token issued before ``at`` stops working."""
        await self._db.execute(
            users.update()
            .where(users.c.id == user_id)
            .values(password_hash=password_hash, tokens_valid_after=at)
        )

    async def end_tokens_before(self, user_id: str, *, at: float) -> None:
        """Every token of the account issued before ``at`` stops working."""
        await self._db.execute(
            users.update().where(users.c.id == user_id).values(tokens_valid_after=at)
        )

    async def set_admin(self, email: str, *, is_admin: bool) -> User:
        """Grant or revoke admin rights; raise ``NotFound`` when no account has ``email``."""
        user = await self.by_email(email)
        if user is None:
            raise NotFound(f"No account has the email {email.lower()}.")
        await self._db.execute(
            users.update().where(users.c.id == user.id).values(is_admin=is_admin)
        )
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

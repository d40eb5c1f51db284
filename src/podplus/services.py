"""The long-lived objects one podplus process owns, built at start-up and closed at shutdown."""

from __future__ import annotations

from dataclasses import dataclass

from databases import Database

from podplus.security.passwords import PasswordHasher
from podplus.security.throttle import LoginThrottle
from podplus.security.tokens import TokenCodec
from podplus.settings import Settings
from podplus.storage.database import connect, open_database
from podplus.storage.migrations import migrate
from podplus.storage.users import LoginFailureStore, UserStore


@dataclass(frozen=True)
class Services:
    settings: Settings
    database: Database
    users: UserStore
    hasher: PasswordHasher
    tokens: TokenCodec
    throttle: LoginThrottle

    async def close(self) -> None:
        self.hasher.close()
        await self.database.disconnect()


async def open_services(settings: Settings) -> Services:
    """Connect and migrate the database, and build everything that reads from it."""
    database = open_database(settings.database_url)
    await connect(database)
    await migrate(database)
    return Services(
        settings=settings,
        database=database,
        users=UserStore(database),
        hasher=PasswordHasher(workers=settings.kdf_workers),
        tokens=TokenCodec(secret_key=settings.secret_key, ttl_s=settings.token_ttl_s),
        throttle=LoginThrottle(
            LoginFailureStore(database),
            max_failures=settings.login_max_failures,
            window_s=settings.login_window_s,
        ),
    )

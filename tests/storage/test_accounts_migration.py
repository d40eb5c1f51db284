"""Migration 3: a database an older release made gains token revocation and the attempt
counters, and loses the old per-failure log; its accounts and their tokens carry on."""

from __future__ import annotations

import sqlalchemy as sa

from podplus.storage.database import connect, open_database
from podplus.storage.migrations import migrate
from podplus.storage.schema import revoked_tokens, schema_migrations, throttle_counters, users
from podplus.storage.throttle import CounterStore
from podplus.storage.users import RevokedTokenStore, UserStore


async def test_a_version_2_database_gains_revocation_and_counters(database_url: str) -> None:
    database = open_database(database_url)
    await connect(database)
    await migrate(database)
    # As release 2 left it: no revocation, failures logged one row each, an account.
    await database.execute("ALTER TABLE users DROP COLUMN tokens_valid_after")
    await database.execute("DROP TABLE revoked_tokens")
    await database.execute("DROP TABLE throttle_counters")
    await database.execute(
        "CREATE TABLE login_failures (id INTEGER PRIMARY KEY, email VARCHAR(320) NOT NULL, "
        "address VARCHAR(64) NOT NULL, failed_at FLOAT NOT NULL)"
    )
    await database.execute(schema_migrations.delete().where(schema_migrations.c.version > 2))
    await database.execute(
        users.insert().values(id="u", email="u@x.io", name="", password_hash="-", created_at=0)
    )

    assert await migrate(database) >= 3
    user = await UserStore(database).by_id("u")
    assert user is not None and user.tokens_valid_after == 0.0
    await RevokedTokenStore(database).revoke(token_id="t", user_id="u", expires_at=10.0)
    assert await RevokedTokenStore(database).live_for("u", now=0.0) == {"t"}
    taken = await CounterStore(database).take(
        "pair a u@x.io", now=1.0, allowance=1, delays_s=(1.0,), forget_before=0.0
    )
    assert taken is not None and taken.attempts == 1
    tables = await database.fetch_all(
        sa.text(
            "SELECT name FROM sqlite_master WHERE type = 'table'"
            if database.url.dialect == "sqlite"
            else "SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public'"
        )
    )
    names = {row[0] for row in tables}
    assert {revoked_tokens.name, throttle_counters.name} <= names
    assert "login_failures" not in names
    await database.disconnect()

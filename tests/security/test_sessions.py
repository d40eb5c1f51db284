"""Ending tokens before they expire: one (logout), all of an account's (logout everywhere, a
new password), seen at once by the process that did it and by every other process sharing
the database; admin rights and a deleted account likewise."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from databases import Database

from podplus.errors import TokenRevoked, Unauthorized
from podplus.security.sessions import Sessions
from podplus.security.tokens import TokenCodec
from podplus.storage.database import connect, open_database
from podplus.storage.migrations import migrate
from podplus.storage.schema import revoked_tokens, users
from podplus.storage.users import RevokedTokenStore, User, UserStore

KEY = "k" * 64
TTL_S = 3600


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class Process:
    """What one podplus process holds: its own connection, stores and clock."""

    database: Database
    users: UserStore
    sessions: Sessions


@pytest.fixture
def wall() -> Clock:
    return Clock(1_700_000_000.0)


@pytest.fixture
async def processes(database_url: str, wall: Clock) -> AsyncIterator[tuple[Process, Process]]:
    made = []
    for _ in range(2):
        database = open_database(database_url)
        await connect(database)
        await migrate(database)
        users = UserStore(database)
        sessions = Sessions(
            tokens=TokenCodec(secret_key=KEY, ttl_s=TTL_S, clock=wall),
            users=users,
            revoked=RevokedTokenStore(database),
        )
        made.append(Process(database, users, sessions))
    yield made[0], made[1]
    for process in made:
        await process.database.disconnect()


async def account(process: Process, email: str = "ada@example.com") -> User:
    return await process.users.create(email=email, name="", password_hash="-")


async def test_logout_ends_that_token_at_once_and_no_other(
    processes: tuple[Process, Process], wall: Clock
) -> None:
    here, _ = processes
    user = await account(here)
    phone, laptop = (here.sessions.issue(user).access_token for _ in range(2))
    assert (await here.sessions.user_for(phone)).id == user.id
    await here.sessions.end(phone)
    with pytest.raises(TokenRevoked):
        await here.sessions.user_for(phone)
    assert (await here.sessions.user_for(laptop)).id == user.id
    with pytest.raises(TokenRevoked):  # logging out twice is refused like any use
        await here.sessions.end(phone)


async def test_another_process_refuses_a_logged_out_token_at_once(
    processes: tuple[Process, Process],
) -> None:
    here, there = processes
    user = await account(here)
    token = here.sessions.issue(user).access_token
    assert await there.sessions.user_for(token)  # verified there already
    await here.sessions.end(token)
    with pytest.raises(TokenRevoked):
        await there.sessions.user_for(token)


async def test_logout_everywhere_ends_every_earlier_token_in_every_process(
    processes: tuple[Process, Process], wall: Clock
) -> None:
    here, there = processes
    user = await account(here)
    tokens = [here.sessions.issue(user).access_token for _ in range(2)]
    for token in tokens:
        await there.sessions.user_for(token)
    wall.now += 0.001
    await here.sessions.end_all(user)
    for process in processes:
        for token in tokens:
            with pytest.raises(TokenRevoked):
                await process.sessions.user_for(token)
    # Logging in again works: the new token is issued after the cut.
    wall.now += 0.001
    fresh = there.sessions.issue(user).access_token
    assert (await here.sessions.user_for(fresh)).id == user.id


async def test_a_new_password_ends_earlier_tokens_and_its_own_token_works_at_once(
    processes: tuple[Process, Process], wall: Clock
) -> None:
    here, _ = processes
    user = await account(here)
    old = here.sessions.issue(user).access_token
    wall.now += 0.001
    # The replacement is issued in the very instant of the cut, and still works.
    fresh = await here.sessions.replace_password(user, "new hash")
    with pytest.raises(TokenRevoked):
        await here.sessions.user_for(old)
    stored = await here.sessions.user_for(fresh.access_token)
    assert stored.password_hash == "new hash"


async def test_revoked_ids_are_forgotten_once_their_tokens_expire(
    processes: tuple[Process, Process], wall: Clock
) -> None:
    here, _ = processes
    user = await account(here)
    await here.sessions.end(here.sessions.issue(user).access_token)
    wall.now += TTL_S
    await here.sessions.end(here.sessions.issue(user).access_token)
    rows = await here.database.fetch_all(revoked_tokens.select())
    assert len(rows) == 1  # the first expired, and its row went with it


async def test_admin_rights_taken_in_another_process_are_gone_at_once(
    processes: tuple[Process, Process],
) -> None:
    here, there = processes
    user = await account(here, "boss@example.com")
    token = here.sessions.issue(user).access_token
    await here.users.set_admin("boss@example.com", is_admin=True)
    assert (await here.sessions.user_for(token)).is_admin
    await there.users.set_admin("BOSS@example.com", is_admin=False)
    assert not (await here.sessions.user_for(token)).is_admin
    await here.users.set_admin("boss@example.com", is_admin=True)
    assert (await there.sessions.user_for(token)).is_admin


async def test_a_password_changed_in_another_process_ends_the_old_tokens_here_at_once(
    processes: tuple[Process, Process], wall: Clock
) -> None:
    here, there = processes
    user = await account(here)
    old = here.sessions.issue(user).access_token
    assert await here.sessions.user_for(old)
    wall.now += 0.001
    fresh = await there.sessions.replace_password(user, "new hash")
    with pytest.raises(TokenRevoked):
        await here.sessions.user_for(old)
    assert (await here.sessions.user_for(fresh.access_token)).password_hash == "new hash"


async def test_a_token_of_an_account_deleted_in_another_process_is_refused_here(
    processes: tuple[Process, Process],
) -> None:
    here, there = processes
    user = await account(here)
    token = here.sessions.issue(user).access_token
    assert await here.sessions.user_for(token)
    await there.database.execute(users.delete().where(users.c.id == user.id))
    with pytest.raises(Unauthorized):
        await here.sessions.user_for(token)

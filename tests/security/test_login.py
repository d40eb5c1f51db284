"""Logging in: the one answer for every bad login, the throttle in front of it, and hashes
kept current. (The throttle's own rules: ``test_throttle.py``.)"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher as Argon2Hasher
from databases import Database

from podplus.errors import BadCredentials, LoginThrottled
from podplus.security.login import Authenticator
from podplus.security.passwords import PasswordHasher
from podplus.security.throttle import LoginThrottle
from podplus.storage.database import connect, open_database
from podplus.storage.migrations import migrate
from podplus.storage.throttle import CounterStore
from podplus.storage.users import UserStore

PASSWORD = "correct horse battery"
MAX_FAILURES = 3
WINDOW_S = 900


class Clock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    db = open_database(f"sqlite:///{tmp_path / 'login.db'}")
    await connect(db)
    await migrate(db)
    yield db
    await db.disconnect()


@pytest.fixture
def hasher() -> Iterator[PasswordHasher]:
    made = PasswordHasher(workers=1)
    yield made
    made.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def login(database: Database, hasher: PasswordHasher, clock: Clock) -> Authenticator:
    users = UserStore(database)
    await users.create(
        email="ada@example.com", name="Ada", password_hash=await hasher.hash(PASSWORD)
    )
    throttle = LoginThrottle(
        CounterStore(database),
        per_account_address=MAX_FAILURES,
        per_address=2 * MAX_FAILURES,
        per_account=4 * MAX_FAILURES,
        window_s=WINDOW_S,
        first_delay_s=1.0,
        clock=clock,
    )
    return Authenticator(users=users, hasher=hasher, throttle=throttle)


async def test_the_right_password_opens_the_account_whatever_the_email_case(
    login: Authenticator,
) -> None:
    user = await login.authenticate(email=" ADA@example.com", password=PASSWORD, address="a")
    assert user.email == "ada@example.com"


async def test_a_wrong_password_and_an_unknown_email_are_the_same_refusal(
    login: Authenticator,
) -> None:
    refusals = []
    for email, password in (("ada@example.com", "wrong"), ("nobody@example.com", PASSWORD)):
        with pytest.raises(BadCredentials) as refused:
            await login.authenticate(email=email, password=password, address="a")
        refusals.append(refused.value.message)
    assert refusals == ["Incorrect email or password."] * 2


async def test_failures_from_one_address_delay_that_account_there_and_nowhere_else(
    login: Authenticator, clock: Clock
) -> None:
    for _ in range(MAX_FAILURES):
        with pytest.raises(BadCredentials):
            await login.authenticate(email="ada@example.com", password="wrong", address="a")
    with pytest.raises(LoginThrottled) as delayed:
        await login.authenticate(email="ada@example.com", password=PASSWORD, address="a")
    assert delayed.value.retry_after_s == 1
    # The owner elsewhere is not held up by a guesser at "a".
    assert await login.authenticate(email="ada@example.com", password=PASSWORD, address="b")
    clock.now += 1
    assert await login.authenticate(email="ada@example.com", password=PASSWORD, address="a")


async def test_failures_from_one_address_delay_that_address_for_every_account(
    login: Authenticator,
) -> None:
    for number in range(2 * MAX_FAILURES):
        with pytest.raises(BadCredentials):
            await login.authenticate(email=f"u{number}@example.com", password="x", address="a")
    with pytest.raises(LoginThrottled):
        await login.authenticate(email="ada@example.com", password=PASSWORD, address="a")
    assert await login.authenticate(email="ada@example.com", password=PASSWORD, address="b")


async def test_a_good_login_clears_the_failures_from_its_address(login: Authenticator) -> None:
    for _ in range(MAX_FAILURES - 1):
        with pytest.raises(BadCredentials):
            await login.authenticate(email="ada@example.com", password="wrong", address="a")
    await login.authenticate(email="ada@example.com", password=PASSWORD, address="a")
    for _ in range(MAX_FAILURES - 1):
        with pytest.raises(BadCredentials):
            await login.authenticate(email="ada@example.com", password="wrong", address="a")
    assert await login.authenticate(email="ada@example.com", password=PASSWORD, address="a")


async def test_a_hash_made_with_weaker_parameters_is_replaced_at_login(
    database: Database, hasher: PasswordHasher, login: Authenticator
) -> None:
    users = UserStore(database)
    weak = Argon2Hasher(time_cost=1, memory_cost=8 * 1024, parallelism=1).hash(PASSWORD)
    user = await users.create(email="bob@example.com", name="", password_hash=weak)
    await login.authenticate(email="bob@example.com", password=PASSWORD, address="a")
    stored = await UserStore(database).by_id(user.id)
    assert stored is not None and stored.password_hash != weak
    assert not hasher.needs_rehash(stored.password_hash)


async def test_an_email_with_a_control_character_is_refused_before_anything_is_counted(
    login: Authenticator, database: Database
) -> None:
    with pytest.raises(BadCredentials):
        await login.authenticate(email="ada@example.com\x00", password=PASSWORD, address="a")
    assert await database.fetch_all("SELECT * FROM throttle_counters") == []

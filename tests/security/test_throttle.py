"""The throttle in front of password hashing: attempts counted before the hash, atomically
across processes, per (account, address), per address and per account, with delays that
grow instead of a lock-out, and sign-ups counted per address."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest
from databases import Database

from podplus.errors import BadCredentials, LoginThrottled, SignupThrottled
from podplus.security.login import Authenticator
from podplus.security.passwords import PasswordHasher
from podplus.security.throttle import (
    Backoff,
    LoginThrottle,
    SignupThrottle,
    address_bucket,
)
from podplus.storage.database import connect, open_database
from podplus.storage.migrations import migrate
from podplus.storage.schema import throttle_counters
from podplus.storage.throttle import CounterStore
from podplus.storage.users import UserStore
from tests.conftest import PASSWORD

PER_PAIR = 10
PER_ADDRESS = 30
PER_ACCOUNT = 100
WINDOW_S = 900
OWNER = "ada@example.com"


class Clock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def hasher() -> Iterator[PasswordHasher]:
    made = PasswordHasher(workers=2)
    yield made
    made.close()


@pytest.fixture
async def databases(database_url: str) -> AsyncIterator[tuple[Database, Database]]:
    """Two connections to one database, as two ``podplus serve`` processes would have."""
    made = []
    for _ in range(2):
        database = open_database(database_url)
        await connect(database)
        await migrate(database)
        made.append(database)
    yield made[0], made[1]
    for database in made:
        await database.disconnect()


def throttle(database: Database, clock: Clock, **limits: float) -> LoginThrottle:
    options: dict[str, float] = {
        "per_account_address": PER_PAIR,
        "per_address": PER_ADDRESS,
        "per_account": PER_ACCOUNT,
        "window_s": WINDOW_S,
        "first_delay_s": 1.0,
        **limits,
    }
    return LoginThrottle(CounterStore(database), clock=clock, **options)  # type: ignore[arg-type]


def authenticator(
    database: Database, hasher: PasswordHasher, clock: Clock, **limits: float
) -> Authenticator:
    return Authenticator(
        users=UserStore(database), hasher=hasher, throttle=throttle(database, clock, **limits)
    )


async def outcome(login: Authenticator, *, password: str, address: str) -> str:
    try:
        await login.authenticate(email=OWNER, password=password, address=address)
    except BadCredentials:
        return "401"
    except LoginThrottled:
        return "429"
    return "200"


async def test_120_concurrent_guesses_through_two_processes_get_only_the_allowance_checked(
    databases: tuple[Database, Database], hasher: PasswordHasher, clock: Clock
) -> None:
    first, second = databases
    await UserStore(first).create(email=OWNER, name="", password_hash=await hasher.hash(PASSWORD))
    # Each "process" has its own connection pool, caches and throttle: only the table is shared.
    servers = [authenticator(first, hasher, clock), authenticator(second, hasher, clock)]
    answers = await asyncio.gather(
        *(
            outcome(servers[number % 2], password=f"guess {number}", address="203.0.113.9")
            for number in range(120)
        )
    )
    assert answers.count("401") == PER_PAIR
    assert answers.count("429") == 120 - PER_PAIR
    counted = await first.fetch_all(throttle_counters.select().order_by("bucket"))
    assert {row["bucket"]: row["attempts"] for row in counted} == {
        f"account {OWNER}": PER_PAIR,
        "address 203.0.113.9": PER_PAIR,
        f"pair 203.0.113.9 {OWNER}": PER_PAIR,
    }


async def test_past_the_allowance_each_attempt_waits_twice_as_long_up_to_half_the_window(
    databases: tuple[Database, Database], clock: Clock
) -> None:
    guard = throttle(databases[0], clock)
    for _ in range(PER_PAIR):
        await guard.failed(await guard.reserve(email=OWNER, address="203.0.113.9"))
    waits = []
    for _ in range(12):
        with pytest.raises(LoginThrottled) as refused:
            await guard.reserve(email=OWNER, address="203.0.113.9")
        waits.append(refused.value.retry_after_s)
        clock.now += refused.value.retry_after_s
        await guard.failed(await guard.reserve(email=OWNER, address="203.0.113.9"))
    assert waits == [1, 2, 4, 8, 16, 32, 64, 128, 256, 450, 450, 450]


async def test_a_refused_attempt_does_not_make_the_wait_longer(
    databases: tuple[Database, Database], clock: Clock
) -> None:
    guard = throttle(databases[0], clock, first_delay_s=60.0)
    for _ in range(PER_PAIR):
        await guard.failed(await guard.reserve(email=OWNER, address="203.0.113.9"))
    for _ in range(50):
        with pytest.raises(LoginThrottled) as refused:
            await guard.reserve(email=OWNER, address="203.0.113.9")
        clock.now += 1
    assert refused.value.retry_after_s == 60 - 49
    clock.now += 10
    await guard.reserve(email=OWNER, address="203.0.113.9")


async def test_failures_are_forgotten_after_a_quiet_window(
    databases: tuple[Database, Database], clock: Clock
) -> None:
    guard = throttle(databases[0], clock)
    for _ in range(PER_PAIR):
        await guard.failed(await guard.reserve(email=OWNER, address="203.0.113.9"))
    clock.now += WINDOW_S
    for _ in range(PER_PAIR):
        await guard.failed(await guard.reserve(email=OWNER, address="203.0.113.9"))
    with pytest.raises(LoginThrottled):
        await guard.reserve(email=OWNER, address="203.0.113.9")


async def test_guessers_elsewhere_do_not_lock_the_owner_out(
    databases: tuple[Database, Database], hasher: PasswordHasher, clock: Clock
) -> None:
    database = databases[0]
    await UserStore(database).create(
        email=OWNER, name="", password_hash=await hasher.hash(PASSWORD)
    )
    login = authenticator(database, hasher, clock, per_account=20)
    # The owner has logged in from home before.
    assert await outcome(login, password=PASSWORD, address="198.51.100.7") == "200"
    # Ten guesses from each of three other addresses: past the per-pair and account limits.
    answers = [
        await outcome(login, password="guess", address=f"203.0.113.{number}")
        for number in range(3)
        for _ in range(11)
    ]
    assert answers.count("401") == 20 and answers.count("429") == 13
    # A new address now waits for the account's ceiling (a delay, not a lock) …
    assert await outcome(login, password=PASSWORD, address="192.0.2.1") == "429"
    # … but the owner at home is let in, and at once.
    assert await outcome(login, password=PASSWORD, address="198.51.100.7") == "200"


async def test_successful_logins_from_one_address_use_up_nothing(
    databases: tuple[Database, Database], hasher: PasswordHasher, clock: Clock
) -> None:
    database = databases[0]
    users = UserStore(database)
    password_hash = await hasher.hash(PASSWORD)
    login = authenticator(database, hasher, clock, per_address=3)
    for number in range(6):  # an office behind one address, everyone logging in
        await users.create(email=f"u{number}@example.com", name="", password_hash=password_hash)
        await login.authenticate(
            email=f"u{number}@example.com", password=PASSWORD, address="203.0.113.9"
        )
    counted = await database.fetch_val(
        throttle_counters.select()
        .with_only_columns(throttle_counters.c.attempts)
        .where(throttle_counters.c.bucket == "address 203.0.113.9")
    )
    assert counted == 0


async def test_sign_ups_are_counted_per_address_and_delayed_past_the_allowance(
    databases: tuple[Database, Database], clock: Clock
) -> None:
    signups = SignupThrottle(
        CounterStore(databases[0]), per_address=3, window_s=WINDOW_S, first_delay_s=1.0, clock=clock
    )
    other = SignupThrottle(
        CounterStore(databases[1]), per_address=3, window_s=WINDOW_S, first_delay_s=1.0, clock=clock
    )
    for guard in (signups, other, signups):
        await guard.reserve(address="203.0.113.9")
    with pytest.raises(SignupThrottled) as refused:
        await other.reserve(address="203.0.113.9")
    assert refused.value.retry_after_s == 1
    await signups.reserve(address="198.51.100.7")
    # One IPv6 client holds a whole /64: rotating through it changes nothing.
    for host in range(3):
        await signups.reserve(address=f"2001:db8::{host}")
    with pytest.raises(SignupThrottled):
        await signups.reserve(address="2001:db8::ffff:1234")


def test_an_ipv6_client_is_counted_by_its_64_and_a_mapped_ipv4_as_ipv4() -> None:
    assert address_bucket("2001:db8:1:2:3:4:5:6") == "2001:db8:1:2::/64"
    assert address_bucket("::ffff:203.0.113.9") == "203.0.113.9"
    assert address_bucket("203.0.113.9") == "203.0.113.9"
    assert address_bucket("unknown") == "unknown"


def test_the_delays_double_from_the_first_to_the_maximum() -> None:
    backoff = Backoff(allowance=2, first_delay_s=1.0, max_delay_s=10.0)
    assert backoff.delays_s() == (1.0, 2.0, 4.0, 8.0, 10.0)
    assert [backoff.wait_s(n) for n in range(9)] == [0, 0, 1, 2, 4, 8, 10, 10, 10]


async def test_a_first_delay_past_half_the_window_is_the_one_delay(
    databases: tuple[Database, Database], clock: Clock
) -> None:
    guard = throttle(databases[0], clock, first_delay_s=600.0)
    for _ in range(PER_PAIR):
        await guard.failed(await guard.reserve(email=OWNER, address="203.0.113.9"))
    for _ in range(3):
        with pytest.raises(LoginThrottled) as refused:
            await guard.reserve(email=OWNER, address="203.0.113.9")
        assert refused.value.retry_after_s == 600
        clock.now += 600
        await guard.failed(await guard.reserve(email=OWNER, address="203.0.113.9"))

"""Brute-force protection for what costs a password hash: logins and sign-ups.

Every attempt is counted *before* the password is hashed, atomically in the database
(``CounterStore.take``), so a burst of concurrent guesses — to one server or to several
sharing the database — gets no more than the allowance through. Past the allowance an
attempt is not locked out but delayed: each further one waits ``first_delay_s``, then twice
that, and so on up to half the window (``Retry-After`` says how long). A bucket's count is
forgotten once ``window_s`` passes without an attempt.

A login is counted in three buckets:

- the account *from this address* (``per_account_address``): the one a guesser fills first,
  and one the owner, on their own address, never shares with a guesser elsewhere;
- the address, over every account (``per_address``): password spraying;
- the account, from every address (``per_account``): a ceiling for guessing spread over
  many addresses, set high, and not applied at all to an address that has logged into the
  account in the last ``TRUSTED_FOR_S``, so strangers can slow the account down but not
  lock its owner out.

A login that succeeds gives its attempt back to the address and the account, and clears
the (account, address) bucket, marking the pair trusted. A sign-up is counted per address
(``SignupThrottle``) and never given back.
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from podplus.errors import LoginThrottled, SignupThrottled
from podplus.storage.throttle import Counter, CounterStore

# An address that logged into an account is spared the account-wide ceiling this long.
TRUSTED_FOR_S = 30 * 86400
# An IPv6 client holds a /64 at least: counting single addresses would count nothing.
IPV6_PREFIX = 64
# ``take`` answered "wait" but the row said otherwise: another request moved it. Try again.
TAKE_TRIES = 5


@dataclass(frozen=True)
class Backoff:
    """How many attempts a bucket gets free, and how long each one past them waits."""

    allowance: int
    first_delay_s: float
    max_delay_s: float

    def delays_s(self) -> tuple[float, ...]:
        """The waits before the attempts past the allowance: 1, 2, 4, … up to the maximum."""
        delays: list[float] = []
        delay = self.first_delay_s
        while delay < self.max_delay_s:
            delays.append(delay)
            delay *= 2
        delays.append(self.max_delay_s)
        return tuple(delays)

    def wait_s(self, attempts: int) -> float:
        """How long after a bucket's last attempt the next may come, having had ``attempts``."""
        if attempts < self.allowance:
            return 0.0
        delays = self.delays_s()
        return delays[min(attempts - self.allowance, len(delays) - 1)]


class MustWait(Exception):
    """A bucket refused an attempt; the next may come in ``retry_after_s``."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(retry_after_s)
        self.retry_after_s = retry_after_s


class Throttle:
    """Takes attempts from buckets in ``store``, telling the time by ``clock``."""

    def __init__(
        self, store: CounterStore, *, window_s: float, clock: Callable[[], float] = time.time
    ) -> None:
        self._store = store
        self._window_s = window_s
        self._clock = clock
        self._last_prune = 0.0

    def now(self) -> float:
        return self._clock()

    async def take(self, bucket: str, backoff: Backoff) -> Counter:
        """Count an attempt against ``bucket``, or raise ``MustWait`` and count nothing."""
        for _ in range(TAKE_TRIES):
            now = self._clock()
            forget_before = now - self._window_s
            taken = await self._store.take(
                bucket,
                now=now,
                allowance=backoff.allowance,
                delays_s=backoff.delays_s(),
                forget_before=forget_before,
            )
            if taken is not None:
                return taken
            current = await self._store.get(bucket)
            if current is None or current.last_attempt_at <= forget_before:
                continue
            wait_s = current.last_attempt_at + backoff.wait_s(current.attempts) - now
            if wait_s > 0:
                raise MustWait(max(1, math.ceil(wait_s)))
        raise MustWait(1)

    async def give_back(self, bucket: str) -> None:
        await self._store.give_back(bucket)

    async def clear(self, bucket: str, *, trusted_until: float | None = None) -> None:
        await self._store.clear(bucket, trusted_until=trusted_until)

    async def prune_now_and_then(self) -> None:
        """Drop idle buckets, at most once a window per process."""
        now = self._clock()
        if now - self._last_prune > self._window_s:
            self._last_prune = now
            await self._store.prune(before=now - self._window_s, now=now)


def max_delay_for(window_s: float, first_delay_s: float) -> float:
    """The longest wait: half the window, so a bucket at it is never forgotten between two
    attempts (unless the first delay is longer still)."""
    return max(first_delay_s, window_s / 2)


def address_bucket(address: str) -> str:
    """The part of a client address that is counted: the address itself, or its /64."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address[:64]
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, IPV6_PREFIX), strict=False))
    return str(parsed)


@dataclass(frozen=True)
class LoginAttempt:
    """The buckets one login attempt was counted in."""

    pair: str
    shared: tuple[str, ...]


class LoginThrottle:
    """Counts login attempts per (account, address), per address and per account."""

    def __init__(
        self,
        store: CounterStore,
        *,
        per_account_address: int,
        per_address: int,
        per_account: int,
        window_s: float,
        first_delay_s: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._throttle = Throttle(store, window_s=window_s, clock=clock)
        max_delay_s = max_delay_for(window_s, first_delay_s)
        self._pair = Backoff(per_account_address, first_delay_s, max_delay_s)
        self._address = Backoff(per_address, first_delay_s, max_delay_s)
        self._account = Backoff(per_account, first_delay_s, max_delay_s)

    async def reserve(self, *, email: str, address: str) -> LoginAttempt:
        """Count an attempt to log into ``email`` from ``address`` before its password is
        checked, or raise ``LoginThrottled`` (counting nothing) when it must wait."""
        where = address_bucket(address)
        pair = f"pair {where} {email}"
        taken: list[str] = []
        try:
            counter = await self._throttle.take(pair, self._pair)
            taken.append(pair)
            await self._throttle.take(f"address {where}", self._address)
            taken.append(f"address {where}")
            if not (counter.trusted_until and counter.trusted_until > self._throttle.now()):
                await self._throttle.take(f"account {email}", self._account)
                taken.append(f"account {email}")
        except MustWait as wait:
            for bucket in taken:
                await self._throttle.give_back(bucket)
            raise LoginThrottled(wait.retry_after_s) from None
        return LoginAttempt(pair=pair, shared=tuple(taken[1:]))

    async def failed(self, attempt: LoginAttempt) -> None:
        # Counted already, when reserved.
        await self._throttle.prune_now_and_then()

    async def succeeded(self, attempt: LoginAttempt) -> None:
        await self._throttle.clear(attempt.pair, trusted_until=self._throttle.now() + TRUSTED_FOR_S)
        for bucket in attempt.shared:
            await self._throttle.give_back(bucket)


class SignupThrottle:
    """Counts sign-ups per address: each costs a password hash, and makes an account."""

    def __init__(
        self,
        store: CounterStore,
        *,
        per_address: int,
        window_s: float,
        first_delay_s: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._throttle = Throttle(store, window_s=window_s, clock=clock)
        self._backoff = Backoff(per_address, first_delay_s, max_delay_for(window_s, first_delay_s))

    async def reserve(self, *, address: str) -> None:
        """Count a sign-up from ``address``, or raise ``SignupThrottled`` when it must wait."""
        try:
            await self._throttle.take(f"signup {address_bucket(address)}", self._backoff)
        except MustWait as wait:
            raise SignupThrottled(wait.retry_after_s) from None
        await self._throttle.prune_now_and_then()

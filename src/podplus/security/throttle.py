"""Brute-force protection for logins.

After ``max_failures`` failed logins for one account, or from one client address,
within ``window_s``, further attempts raise ``LoginThrottled`` until the window has
passed. The check runs before the password hash is computed, so a locked-out attacker
costs one indexed query and never occupies the hashing pool that honest logins wait on.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from podplus.errors import LoginThrottled
from podplus.storage.users import LoginFailureStore


class LoginThrottle:
    def __init__(
        self,
        store: LoginFailureStore,
        *,
        max_failures: int,
        window_s: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._max_failures = max_failures
        self._window_s = window_s
        self._clock = clock
        self._last_prune = 0.0

    async def check(self, *, email: str, address: str) -> None:
        """Raise ``LoginThrottled`` while the account or the address is locked out."""
        now = self._clock()
        oldest = await self._store.oldest_recent(
            email=email, address=address, since=now - self._window_s, limit=self._max_failures
        )
        if oldest is not None:
            raise LoginThrottled(retry_after_s=max(1, math.ceil(oldest + self._window_s - now)))

    async def failed(self, *, email: str, address: str) -> None:
        now = self._clock()
        await self._store.record(email=email, address=address, at=now)
        if now - self._last_prune > self._window_s:
            self._last_prune = now
            await self._store.prune(before=now - self._window_s)

    async def succeeded(self, *, email: str) -> None:
        # Only the account's own count is cleared: an address's count survives, so logging
        # into one's own account can't launder a spray of guesses against others.
        await self._store.clear_email(email)

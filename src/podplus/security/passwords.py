"""Password hashing with Argon2id, always off the event loop.

Parameters follow OWASP's current first recommendation for Argon2id (19 MiB, two
passes, one lane): about 25 ms of one core per hash here, so a burst of logins costs
CPU, never event-loop time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher as Argon2Hasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from podplus.errors import WeakPassword
from podplus.security.strength import weakness

ARGON2_TIME_COST = 2
ARGON2_MEMORY_COST_KIB = 19 * 1024
ARGON2_PARALLELISM = 1


class PasswordHasher:
    """Hash and verify passwords in a dedicated thread pool.

    The pool is small on purpose (``workers``, by default one fewer than the cores):
    a flood of logins queues here instead of taking every core from the API.
    """

    def __init__(self, *, workers: int) -> None:
        self._argon2 = Argon2Hasher(
            time_cost=ARGON2_TIME_COST,
            memory_cost=ARGON2_MEMORY_COST_KIB,
            parallelism=ARGON2_PARALLELISM,
        )
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="kdf")
        # Verifying against this when the email is unknown keeps both answers equally slow,
        # so response time doesn't reveal which emails have accounts.
        self._dummy_hash = self._argon2.hash("not a real password")

    async def hash(self, password: str) -> str:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._argon2.hash, password)

    async def hash_new(
        self, password: str, *, user_inputs: Sequence[str], field: str = "password"
    ) -> str:
        """Hash a password someone is choosing, or raise ``WeakPassword`` saying why not.

        The strength estimate (pure Python, up to tens of milliseconds) runs in the pool
        with the hash, so neither holds the event loop.
        """
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._executor, self._hash_new_sync, password, tuple(user_inputs), field
        )

    async def verify(self, password_hash: str | None, password: str) -> bool:
        loop = asyncio.get_running_loop()
        target = password_hash or self._dummy_hash
        ok = await loop.run_in_executor(self._executor, self._verify_sync, target, password)
        return ok and password_hash is not None

    def needs_rehash(self, password_hash: str) -> bool:
        return self._argon2.check_needs_rehash(password_hash)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _hash_new_sync(self, password: str, user_inputs: tuple[str, ...], field: str) -> str:
        reason = weakness(password, user_inputs=user_inputs)
        if reason is not None:
            raise WeakPassword(reason, field=field)
        return self._argon2.hash(password)

    def _verify_sync(self, password_hash: str, password: str) -> bool:
        try:
            return self._argon2.verify(password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

"""Logging in: from an email, a password and the caller's address to a user, or a refusal."""

from __future__ import annotations

from podplus.errors import BadCredentials
from podplus.security.passwords import PasswordHasher
from podplus.security.throttle import LoginThrottle
from podplus.storage.users import User, UserStore


class Authenticator:
    """Checks a password login, throttled and constant-time, and keeps its hash current."""

    def __init__(
        self, *, users: UserStore, hasher: PasswordHasher, throttle: LoginThrottle
    ) -> None:
        self._users = users
        self._hasher = hasher
        self._throttle = throttle

    async def authenticate(self, *, email: str, password: str, address: str) -> User:
        """Return the account ``email`` and ``password`` open.

        The attempt is counted before any hashing; ``LoginThrottled`` when it must wait
        (see ``podplus.security.throttle``), and ``BadCredentials`` (the same for an unknown
        email as for a wrong password, and as slow) otherwise.
        """
        email = email.strip().lower()
        if any(ord(char) < 0x20 or char == "\x7f" for char in email):
            # No account's email holds a control character (sign-up refuses them), and NUL
            # can't even be stored in PostgreSQL text: nothing to count, nothing to hash.
            raise BadCredentials()
        attempt = await self._throttle.reserve(email=email, address=address)
        user = await self._users.by_email(email)
        ok = await self._hasher.verify(user.password_hash if user else None, password)
        if user is None or not ok:
            await self._throttle.failed(attempt)
            raise BadCredentials()
        await self._throttle.succeeded(attempt)
        if self._hasher.needs_rehash(user.password_hash):
            # The parameters were raised since this hash was made: the password is at hand
            # only now, so this is the moment to re-hash it.
            await self._users.set_password_hash(user.id, await self._hasher.hash(password))
        return user

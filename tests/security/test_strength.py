"""New passwords: the easy-to-guess ones are refused, with the reason."""

from __future__ import annotations

import pytest

from podplus.errors import WeakPassword
from podplus.security.passwords import PasswordHasher
from podplus.security.strength import account_words, weakness
from tests.conftest import PASSWORD

ADA = account_words("ada.lovelace@example.com", "Ada Lovelace")


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("password", "This is a top-10 common password."),
        ("aaaaaaaa", 'Repeats like "aaa" are easy to guess.'),
        (" " * 8, 'Repeats like "aaa" are easy to guess.'),
        ("12345678", "This is a top-10 common password."),
        ("qwertyuiop", "This is a top-100 common password."),
    ],
)
def test_the_weakest_passwords_are_refused_with_the_reason(password: str, reason: str) -> None:
    found = weakness(password, user_inputs=ADA)
    assert found is not None and found.startswith(reason)


def test_a_password_made_of_the_accounts_own_email_and_name_is_weak() -> None:
    assert weakness("lovelaceada", user_inputs=[]) is None
    assert weakness("lovelaceada", user_inputs=ADA) is not None
    assert weakness("ada.lovelace@example.com", user_inputs=ADA) is not None


def test_a_passphrase_is_strong_enough() -> None:
    assert weakness(PASSWORD, user_inputs=ADA) is None
    assert weakness("stapled horse battery correct", user_inputs=ADA) is None


def test_a_long_password_is_judged_by_its_first_72_characters() -> None:
    assert weakness(PASSWORD * 40, user_inputs=ADA) is None
    assert weakness("a" * 1024, user_inputs=ADA) is not None


async def test_hashing_a_weak_new_password_refuses_it_naming_the_field() -> None:
    hasher = PasswordHasher(workers=1)
    try:
        with pytest.raises(WeakPassword) as refused:
            await hasher.hash_new("password", user_inputs=ADA, field="new_password")
        assert refused.value.message.startswith(
            "new_password: too easy to guess: This is a top-10 common password."
        )
        assert (await hasher.hash_new(PASSWORD, user_inputs=ADA)).startswith("$argon2id$")
    finally:
        hasher.close()
